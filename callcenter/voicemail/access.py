"""Who sees and handles which voicemail box. Pure: the config and a user's role, no I/O.

- supervisors and admins (``Permission.ALL_VOICEMAIL``): every box;
- an agent user (``Permission.QUEUE_VOICEMAIL``): the boxes whose ``queue`` the agent serves,
  i.e. whose required skills the agent has at the required levels (the agents the queue
  would ring before any escalation);
- anyone else, and an agent for another queue's box: nothing (the pages answer 403).

A box with no queue is for supervisors only.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.auth.model import Permission, Role, allows
from callcenter.config import CallCenterConfig
from callcenter.routing.model import SkillNeed, has_all_skills


def serves_queue(config: CallCenterConfig, agent_id: str, queue_id: str) -> bool:
    """True when the agent has every skill the queue requires, at its level."""
    queue = config.queues.get(queue_id)
    if queue is None:
        return False
    try:
        skills = config.agent(agent_id).skills
    except KeyError:
        return False
    return has_all_skills(skills, [SkillNeed.coerce(need) for need in queue.skills])


@dataclass(frozen=True)
class VoicemailAccess:
    """The boxes one signed-in user may open, and whether they may handle their messages."""

    boxes: frozenset[str]
    every_box: bool = False

    @classmethod
    def of(
        cls, config: CallCenterConfig, role: Role | str, agent_id: str | None
    ) -> VoicemailAccess:
        role = Role(role)
        if allows(role, Permission.ALL_VOICEMAIL):
            return cls(frozenset(config.voicemail), every_box=True)
        if allows(role, Permission.QUEUE_VOICEMAIL) and agent_id:
            return cls(
                frozenset(
                    box_id
                    for box_id, box in config.voicemail.items()
                    if box.queue is not None and serves_queue(config, agent_id, box.queue)
                )
            )
        return cls(frozenset())

    def may_open(self, box_id: str) -> bool:
        """May see, play and handle the messages of ``box_id``."""
        return self.every_box or box_id in self.boxes

    @property
    def any_box(self) -> bool:
        """Whether the inbox has anything for this user at all."""
        return self.every_box or bool(self.boxes)
