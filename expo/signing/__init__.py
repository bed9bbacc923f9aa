"""Cloud signing: contracts signed "screen to screen" in a signing-ceremony room.

* :mod:`~expo.signing.models`: the ceremony of a room, its documents (PDF, SHA-256 recorded on
  upload), its signatory parties (named in advance, each with a signing link) and their signatures.
* :mod:`~expo.signing.services`: the rules (documents and parties fixed at the first signature, the
  typed name checked against the named signer, the stored bytes hashed again before each signature,
  every change audited) and the ceremony moment on the realtime bus.
* :mod:`~expo.signing.certificate`: the PDF certificate.
* :mod:`~expo.signing.api` and :mod:`~expo.signing.pages`: the signing API of the room page, the
  organizers' set-up page, the certificate and the public verification page.
"""
