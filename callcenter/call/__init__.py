"""One call while our app handles it: its session (inbox, tasks, context), the router that
feeds it ARI events, and the messages our own parts post to it.

- ``router.EventRouter``: channel/bridge id -> the inbox of the call that claimed it.
- ``session.CallSession``: one call's inbox, owned tasks and ``CallerContext``;
  ``session.CallFlow``: the protocol a call flow (IVR, queue) implements.
- ``messages.CallMessage``: what is not an ARI event but reaches a call's inbox.
"""
