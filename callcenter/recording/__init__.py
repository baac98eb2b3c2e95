"""Call recordings: which calls to record (``policy``), ARI hooks that start, pause, resume,
stop and store them (``recorder``), where the files live (``storage``), and the retention
job (``retention``).

The inbound flow needs::

    from callcenter.recording import Recorder
"""

from callcenter.recording.recorder import Recorder, StoredRecordingInfo

__all__ = ["Recorder", "StoredRecordingInfo"]
