"""What callers can hear: Asterisk's core sounds, our own prompts, and the media URIs naming them.

A config refers to sounds two ways, both checked at load (``config check``):

- ``sound:<id>``: a file Asterisk already has. Only Asterisk 22's core sounds
  (``data/asterisk-core-sounds-en.txt``) are accepted: a missing file plays nothing (ARI still
  answers 201, then PlaybackStarted and PlaybackFinished with ``state: failed`` at once), so a
  typo would be silence on the line.
- ``prompt:<id>``: one of the config's own ``prompts:`` (text spoken by espeak-ng, or a recorded
  file). ``callcenter prompts build`` makes them into files and ``callcenter dialplan deploy``
  installs them under ``sounds/<language>/callcenter/``, so Asterisk plays them as
  ``sound:callcenter/<id>``: :func:`asterisk_media` is that translation, done once at the ARI
  edge.

This module is at the bottom of the house (beside config): it knows no socket and no file but
its own list.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

PROMPT_FOLDER = "callcenter"
"""The folder of ours under each language of Asterisk's sounds directory."""
PROMPT_SCHEME = "prompt"
DEFAULT_LANGUAGE = "en"

MediaUri = Annotated[
    str,
    StringConstraints(
        max_length=200,
        pattern=r"^(sound|prompt|recording|digits|number|characters|tone):[A-Za-z0-9_/.:,-]+$",
    ),
]
"""What a config may play: ``sound:vm-goodbye``, ``prompt:welcome``, ``digits:123``..."""

Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$")]
"""An Asterisk language folder: ``en``, ``fr``, ``en_GB``."""
Voice = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,39}$")]
"""An espeak-ng voice: ``en-us``, ``fr``, ``en+f3``."""


class Prompt(BaseModel):
    """One of our prompts: text to speak, or a recorded WAV file (exactly one of the two)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = Field(default=None, min_length=1, max_length=2000)
    file: str | None = Field(default=None, min_length=1, max_length=400)
    """A WAV file; a relative path is read from the config file's directory."""
    voice: Voice | None = None
    """espeak-ng voice for ``text`` [default: the language]."""
    language: Language = DEFAULT_LANGUAGE
    """The sounds folder it is installed in (``sounds/<language>/callcenter/``)."""

    @model_validator(mode="after")
    def _text_or_file(self) -> Prompt:
        if (self.text is None) == (self.file is None):
            raise ValueError("a prompt needs exactly one of text or file")
        if self.file is not None and self.voice is not None:
            raise ValueError("voice applies to text prompts only")
        if self.text is not None and any(ord(c) < 0x20 and c not in "\t\n" for c in self.text):
            raise ValueError("text has control characters")
        return self


@functools.cache
def core_sounds() -> frozenset[str]:
    """Asterisk 22's core sound ids (``hello-world``, ``digits/1``, ``silence/1``...)."""
    text = resources.files("callcenter").joinpath("data/asterisk-core-sounds-en.txt").read_text()
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def prompt_sound_id(prompt_id: str) -> str:
    """The id Asterisk knows one of our prompts by: ``callcenter/<id>``."""
    return f"{PROMPT_FOLDER}/{prompt_id}"


_PROMPT_URI = re.compile(rf"{PROMPT_SCHEME}:([a-z][a-z0-9_-]*)")


def asterisk_media(uri: str) -> str:
    """A media URI as ARI takes it: ``prompt:welcome`` -> ``sound:callcenter/welcome``."""
    match = _PROMPT_URI.fullmatch(uri)
    return f"sound:{prompt_sound_id(match.group(1))}" if match else uri


# --- checking a config's references ---------------------------------------------------------


def _mentions_media(annotation: Any) -> bool:
    """Whether a field's type is, or contains (list, optional), :data:`MediaUri`."""
    if annotation is MediaUri or annotation == MediaUri:
        return True
    return any(_mentions_media(arg) for arg in typing.get_args(annotation))


def media_references(model: BaseModel, path: str = "") -> Iterator[tuple[str, str]]:
    """Every media URI in a config model, with its key path (``ivr.menus.main.prompts[0]``)."""
    for name, field in type(model).model_fields.items():
        here = f"{path}.{name}" if path else name
        yield from _walk(getattr(model, name), here, _mentions_media(field.annotation))


def _walk(value: Any, path: str, is_media: bool) -> Iterator[tuple[str, str]]:
    if isinstance(value, BaseModel):
        yield from media_references(value, path)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}", is_media)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]", is_media)
    elif is_media and isinstance(value, str):
        yield path, value


def sound_problems(model: BaseModel, prompts: Mapping[str, Prompt]) -> list[tuple[str, str]]:
    """(key path, message) for each ``sound:`` that no Asterisk has and each unknown prompt."""
    problems: list[tuple[str, str]] = []
    core = core_sounds()
    for path, uri in media_references(model):
        scheme, _, name = uri.partition(":")
        ours = name.removeprefix(f"{PROMPT_FOLDER}/") if scheme == "sound" else None
        if ours is not None and ours != name:
            # sound:callcenter/<id> is a prompt written the way Asterisk plays it.
            scheme, name = PROMPT_SCHEME, ours
        if scheme == "sound" and name not in core:
            problems.append(
                (
                    path,
                    f"sound {name!r} is not one of Asterisk's core sounds (it would play "
                    f"nothing): use a core sound or add it under prompts: and write "
                    f"prompt:{_prompt_like(name)}",
                )
            )
        elif scheme == PROMPT_SCHEME and name not in prompts:
            known = ", ".join(sorted(prompts)[:8]) or "none defined"
            problems.append((path, f"unknown prompt {name!r} (prompts: {known})"))
    return problems


def _prompt_like(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", name.lower()).strip("-") or "my-prompt"


def used_sounds(model: BaseModel) -> list[tuple[str, str]]:
    """(key path, Asterisk sound id) of every ``sound:`` and ``prompt:`` a config plays."""
    used = []
    for path, uri in media_references(model):
        scheme, _, name = uri.partition(":")
        if scheme == "sound":
            used.append((path, name))
        elif scheme == PROMPT_SCHEME:
            used.append((path, prompt_sound_id(name)))
    return used
