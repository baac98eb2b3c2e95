"""Our own prompts: text spoken by espeak-ng or recorded files, made into 8 kHz files
(``build.py``, with the pure audio in ``audio.py``) and installed into Asterisk's sounds
directory (``install.py``). The config side (the ``prompts:`` model, ``prompt:<id>`` URIs and
the list of Asterisk's core sounds) is :mod:`callcenter.sounds`.
"""
