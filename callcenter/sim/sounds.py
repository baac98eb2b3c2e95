"""The simulated Asterisk's sounds: which exist, in which languages and formats (ARI /sounds).

A stock Asterisk 22 has its core sounds (``callcenter/data/asterisk-core-sounds-en.txt``) in
English, as GSM files (what ``make install`` and Debian's asterisk-core-sounds-en-gsm put
there). Our prompts, once deployed, are ``callcenter/<id>`` in the prompt's language as
``.wav``/``.sln`` (format ``slin``) and ``.ulaw``. ARI describes a sound with the formats of its
files (res/ari/resource_sounds.c): ``{"id", "text"?, "formats": [{"language", "format"}]}``;
an unknown id is 404 ``Sound not found``, an empty list 404 ``No sounds found that matched the
query``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from callcenter.sounds import DEFAULT_LANGUAGE, core_sounds, prompt_sound_id

if TYPE_CHECKING:
    from callcenter.config import CallCenterConfig
    from callcenter.sim.pbx import SimulatedAsterisk

Json = dict[str, Any]

CORE_FORMATS = ("gsm",)
PROMPT_FORMATS = ("slin", "ulaw")
SECONDS_PER_CHARACTER = 0.065
"""How long espeak-ng takes to say a character of text, roughly (for the simulated length)."""


class SoundNotFound(LookupError):
    """ARI's 404 for a sound, with Asterisk's message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def formats_of(pbx: SimulatedAsterisk, sound_id: str) -> list[tuple[str, str]]:
    """(language, format) pairs of a sound the simulated Asterisk has, [] when it has none."""
    if sound_id not in pbx.sounds:
        return []
    languages = pbx.sound_languages.get(sound_id, (DEFAULT_LANGUAGE,))
    formats = CORE_FORMATS if sound_id in core_sounds() else PROMPT_FORMATS
    return [(language, fmt) for language in languages for fmt in formats]


def sound_json(pbx: SimulatedAsterisk, sound_id: str) -> Json:
    """GET /sounds/{soundId}."""
    formats = formats_of(pbx, sound_id)
    if not formats:
        raise SoundNotFound("Sound not found")
    return {
        "id": sound_id,
        "formats": [{"language": language, "format": fmt} for language, fmt in formats],
    }


def list_sounds_json(pbx: SimulatedAsterisk, lang: str | None, fmt: str | None) -> list[Json]:
    """GET /sounds?lang=&format=: every sound with a file matching both filters."""
    found = []
    for sound_id in sorted(pbx.sounds):
        pairs = [
            (language, f)
            for language, f in formats_of(pbx, sound_id)
            if (not lang or language == lang) and (not fmt or f == fmt)
        ]
        if pairs:
            found.append(
                {"id": sound_id, "formats": [{"language": la, "format": f} for la, f in pairs]}
            )
    if not found:
        raise SoundNotFound("No sounds found that matched the query")
    return found


def prompt_seconds(text: str | None) -> float:
    """About how long a text prompt lasts once spoken (a file prompt: 2 s)."""
    if not text:
        return 2.0
    return max(0.5, round(len(text) * SECONDS_PER_CHARACTER, 2))


def install_prompts(pbx: SimulatedAsterisk, config: CallCenterConfig) -> list[str]:
    """What ``dialplan deploy`` does to a real Asterisk: the config's prompts now exist."""
    installed = []
    for prompt_id, prompt in sorted(config.prompts.items()):
        sound_id = prompt_sound_id(prompt_id)
        pbx.add_sound(sound_id, prompt_seconds(prompt.text), language=prompt.language)
        installed.append(sound_id)
    return installed
