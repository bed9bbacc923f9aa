"""The tenant: expos, their teams, and the one rule for who may do what (:mod:`expo.permissions`)."""
