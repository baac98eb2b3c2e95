"""Voicemail: messages callers leave in a box, stored like recordings, handled by people.

- the call side is ``InboundCallFlow._leave_voicemail`` (``callcenter.worker.inbound``):
  greeting, beep, recording into ``voicemail-<box>-<call id>``, tracked by name in the
  recorder, which stores it when Asterisk says it finished, whatever the event order;
- :mod:`service`: a stored message gets its ``voicemail_messages`` row, its signed
  ``voicemail`` webhook and its e-mail (:mod:`email`);
- :mod:`sound`: how much of a message is sound (less than the box's minimum: empty);
- :mod:`messages`: the message's row and announcement (pure); :mod:`access`: who sees which
  box (pure); :mod:`store`: list, read, mark handled, ask for a call back (the database);
  :mod:`testing`: a stored message's rows, for tests.

The inbox is ``callcenter.web.voicemail``; the CLI ``callcenter voicemail list|play|handle``.
"""
