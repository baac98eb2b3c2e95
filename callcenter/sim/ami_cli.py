"""CLI commands the simulated Asterisk answers through ``Action: Command`` beyond the basics:
``manager show user NAME`` and ``dialplan show [EXTEN@]CONTEXT``, printed as Asterisk 22 does.

- ``manager show user`` (main/manager.c handle_showmanager): an empty line, then
  ``          username: NAME`` ... ``         read perm: system,call,...`` (classes in
  manager.c's perms[] order), ``        write perm: ...``; an unknown user prints "There is no
  manager called NAME" and still succeeds.
- ``dialplan show`` (pbx_config handle_show_dialplan): ``[ Context 'C' created by 'pbx_config' ]``,
  one ``  %-17s %-45s [extensions.conf:LINE]`` line per priority (the extension name on the
  first), a blank line, then ``-= N extension (M priorities) in K context. =-``; a missing
  extension or context prints "There is no existence of ..." and fails (``Response: Error``).

The dialplan comes from an ``extensions.conf`` given to the server (``AmiServer.extensions``,
see :mod:`callcenter.sim.extensions_conf`), else from the PBX core's routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcenter.sim.extensions_conf import ExtensionsConf, Priority, from_routes

if TYPE_CHECKING:
    from callcenter.sim.ami_server import AmiServer, CommandResult

# main/manager.c perms[], in order ("all" excluded): how user_authority_to_str lists classes.
PERM_ORDER = (
    "system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
    "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security",
    "message",
)  # fmt: skip


def authority_text(classes: frozenset[str]) -> str:
    names = [name for name in PERM_ORDER if name in classes]
    return ",".join(names) or "<none>"


def run_cli(server: AmiServer, command: str) -> CommandResult | None:
    """The answer to ``command`` if it is one of ours, else None."""
    words = command.split()
    lowered = [w.lower() for w in words]
    if lowered[:3] == ["manager", "show", "user"] and len(words) == 4:
        return manager_show_user(server, words[3])
    if lowered[:2] == ["dialplan", "show"] and len(words) <= 3:
        return dialplan_show(server, words[2] if len(words) == 3 else None)
    return None


def manager_show_user(server: AmiServer, name: str) -> CommandResult:
    from callcenter.sim.ami_server import CommandResult

    if name != server.username:
        return CommandResult([f"There is no manager called {name}"])
    return CommandResult(
        [
            "",
            f"          username: {name}",
            "            secret: <Set>",
            "               ACL: yes",
            f"         read perm: {authority_text(server.read_perm)}",
            f"        write perm: {authority_text(server.write_perm)}",
            "   displayconnects: no",
            "allowmultiplelogin: yes",
            "         Variables: ",
        ]
    )


def _conf(server: AmiServer) -> ExtensionsConf:
    if server.extensions is not None:
        return server.extensions
    pbx = server.pbx
    return from_routes(pbx.dialplan.routes() if pbx is not None else [])


def dialplan_show(server: AmiServer, place: str | None) -> CommandResult:
    from callcenter.sim.ami_server import CommandResult

    conf = _conf(server)
    exten: str | None = None
    context: str | None = None
    if place:
        if "@" in place:
            exten, _, context = place.partition("@")
            exten, context = exten or None, context or None
        else:
            context = place
    if context is not None and context not in conf.contexts:
        return CommandResult([f"There is no existence of '{context}' context"], success=False)
    lines: list[str] = []
    extensions = priorities = contexts = 0
    for name in [context] if context else sorted(conf.contexts):
        assert name is not None
        shown = [(e, ps) for e, ps in conf.contexts[name].items() if exten is None or e == exten]
        if not shown and exten is not None:
            continue
        contexts += 1
        lines.append(f"[ Context '{name}' created by 'pbx_config' ]")
        for extension, steps in shown:
            extensions += 1
            for index, step in enumerate(steps):
                priorities += 1
                label = f"'{extension}' =>" if index == 0 else ""
                lines.append(f"  {label:<17} {_step_text(step):<45} [extensions.conf:{step.line}]")
        lines.append("")
    if exten is not None and not extensions:
        where = f"{exten}@{context}" if context else f"'{exten}'"
        suffix = " extension" if context else " extension in all contexts"
        return CommandResult([f"There is no existence of {where}{suffix}"], success=False)
    lines.append(
        f"-= {extensions} {'extension' if extensions == 1 else 'extensions'} "
        f"({priorities} {'priority' if priorities == 1 else 'priorities'}) in {contexts} "
        f"{'context' if contexts == 1 else 'contexts'}. =-"
    )
    return CommandResult(lines)


def _step_text(step: Priority) -> str:
    return f"{step.number}. {step.app}({step.data})"
