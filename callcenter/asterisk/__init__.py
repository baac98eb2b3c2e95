"""Adapters to Asterisk: ARI (``ari.py`` over aioari) and AMI (``ami.py`` over panoramisk).

Only this package imports aioari or panoramisk. Raw payloads become typed events here
(``events.py``); ids have their own types (``ids.py``).
"""
