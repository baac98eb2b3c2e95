"""Asterisk's config files generated from callcenter.yaml, linted, deployed and rolled back.

- :mod:`.render`: the config model -> a plain context -> Jinja templates (repo ``dialplan/``).
- :mod:`.check`: a linter for the rendered extensions.conf and the other .conf files.
- :mod:`.deploy`: back up, write atomically, reload over AMI, roll back when a reload fails.
- :mod:`.secrets`: SHA-512 crypt and MD5 digests, placeholder refusal.
"""
