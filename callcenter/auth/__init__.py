"""Who may do what: users and roles, password and TOTP checks, lock-out after failed sign-ins.

Roles, from least to most: ``agent`` (own state and own calls), ``qa`` (every call and
recording, no live control), ``supervisor`` (live queues, listen/whisper/barge, force-pause,
plus what qa sees), ``admin`` (everything, users).
"""
