"""Call detail records: build them (``record``), write them batched with a durable spool
(``writer``, ``spool``, ``store``), compute KPIs (``kpis``, ``report``), reconcile with Asterisk's
own CDR (``reconcile``).

The inbound flow needs two names::

    from callcenter.cdr import CallRecordBuilder, CdrWriter
"""

from callcenter.cdr.record import CallRecordBuilder
from callcenter.cdr.writer import CdrWriter

__all__ = ["CallRecordBuilder", "CdrWriter"]
