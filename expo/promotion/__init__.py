"""Investment promotion: a city's (or a zone's, or a fair's) promotion site beside its expo.

This first slice is the public site at ``/expos/{slug}/invest``: the letter to investors, the
promotional film (with its poster and subtitles in English and Chinese) and six organizer-edited
modules of sections, each in both languages, with a sitemap. Project filing, consulting,
invitations and the bureau's pipeline build on it later.

``models`` holds the tables, ``services`` the rules (who edits, what is valid, audit),
``pages`` the public site and ``editor_pages`` the organizers' editing pages. ``consulting*``
holds investors' questions to the bureau and its answers (service, ``_api``, ``_pages``), and
``invitations*`` the invitation letters sent from a CSV list and their funnel (``_csv`` reads the
list).
"""
