"""``callcenter doctor``: is this Asterisk ready for our config? One line per check.

Run against a live Asterisk with the config's own credentials: ARI (reachable, user, version,
our app), AMI (login, read/write classes), the dialplan of every IVR number, the agents'
phones, every sound and prompt we play, the database (reachable, migrated, cdr_pgsql's
table) and the worker's /healthz. ``dialplan deploy`` runs the checks a deploy cannot fix
itself before it changes anything (:func:`run.run_doctor` with ``before_deploy``).
"""
