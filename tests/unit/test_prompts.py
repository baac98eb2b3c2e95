"""Prompts: 8 kHz conversion, the build (text through espeak-ng, a WAV file), only what changed,
installing into Asterisk's sounds directory. Outputs are checked by reading them back."""

from __future__ import annotations

import json
import math
import os
import struct
import wave
from array import array
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.prompts.audio import (
    AudioError,
    Pcm,
    read_wav,
    resample,
    sln_bytes,
    ulaw_bytes,
    ulaw_decode,
    wav_bytes,
)
from callcenter.prompts.build import PromptBuildError, build_prompts, read_manifest
from callcenter.prompts.install import install_prompts, planned_changes
from callcenter.sounds import Prompt

SUFFIXES = (".wav", ".sln", ".ulaw")


def tone(frequency: float, rate: int, seconds: float, amplitude: float = 10000.0) -> Pcm:
    count = int(rate * seconds)
    return Pcm(
        array(
            "h",
            (int(amplitude * math.sin(2 * math.pi * frequency * n / rate)) for n in range(count)),
        ),
        rate,
    )


def rms(samples: array[int] | list[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def write_wav(path: Path, pcm: Pcm, channels: int = 1, width: int = 2) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(pcm.rate)
        if width == 2:
            frames = b"".join(struct.pack("<h", s) * channels for s in pcm.samples)
        else:  # 8-bit unsigned
            frames = b"".join(bytes([(s >> 8) + 128]) * channels for s in pcm.samples)
        out.writeframes(frames)


def read_back(path: Path) -> tuple[int, int, int, float]:
    """(rate, channels, bytes per sample, seconds) of a WAV file."""
    with wave.open(str(path)) as played:
        return (
            played.getframerate(),
            played.getnchannels(),
            played.getsampwidth(),
            played.getnframes() / played.getframerate(),
        )


# --- audio ------------------------------------------------------------------------------------


def test_resampling_keeps_speech_band_tones_and_removes_what_8khz_cannot_carry() -> None:
    # espeak-ng speaks at 22.05 kHz: 1 kHz must pass, 6 kHz (above 4 kHz) must not alias in.
    passband = resample(tone(1000, 22050, 0.5), 8000)
    stopband = resample(tone(6000, 22050, 0.5), 8000)
    assert passband.rate == 8000 and len(passband.samples) == 4000
    middle = slice(200, -200)  # away from the filter's edges
    assert rms(passband.samples[middle]) == pytest.approx(10000 / math.sqrt(2), rel=0.03)
    assert rms(stopband.samples[middle]) < 0.01 * rms(passband.samples[middle])
    # 48 kHz and 16 kHz files come down the same way; 8 kHz is left alone.
    assert len(resample(tone(440, 48000, 1.0)).samples) == 8000
    assert len(resample(tone(440, 16000, 1.0)).samples) == 8000
    same = tone(440, 8000, 0.1)
    assert resample(same) is same


def test_ulaw_follows_g711() -> None:
    pcm = Pcm(array("h", [0, 1000, -1000, 32767, -32768, 8031]), 8000)
    encoded = ulaw_bytes(pcm)
    assert encoded[0] == 0xFF and encoded[3] == 0x80 and encoded[4] == 0x00  # G.711 table
    decoded = ulaw_decode(encoded)
    for original, back in zip(pcm.samples, decoded, strict=True):
        assert abs(original - back) <= max(8, abs(original) // 16)  # 4-bit mantissa


def test_wav_and_sln_are_little_endian_16_bit_mono() -> None:
    pcm = Pcm(array("h", [1, -2, 300]), 8000)
    assert sln_bytes(pcm) == struct.pack("<3h", 1, -2, 300)
    data = wav_bytes(pcm)
    assert read_wav(data).samples == pcm.samples
    assert data[:4] == b"RIFF" and struct.unpack_from("<HHI", data, 20) == (1, 1, 8000)


def test_reading_stereo_and_8_bit_files(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    write_wav(path, tone(440, 44100, 0.25), channels=2)
    mono = read_wav(path.read_bytes())
    assert (mono.rate, len(mono.samples)) == (44100, 11025)
    write_wav(path, tone(440, 11025, 0.25), width=1)
    assert len(read_wav(path.read_bytes()).samples) == 2756
    with pytest.raises(AudioError, match="not a WAV file"):
        read_wav(b"ID3\x04 an mp3", "song.mp3")


# --- build ------------------------------------------------------------------------------------


def test_build_a_text_prompt_with_espeak_ng(espeak_ng: str, tmp_path: Path) -> None:
    prompts = {"welcome": Prompt(text="Welcome to Acme Shop. For sales press 2.")}
    result = build_prompts(prompts, tmp_path, tmp_path / "build")
    assert result.built == ["welcome"]
    folder = tmp_path / "build" / "en"
    rate, channels, width, seconds = read_back(folder / "welcome.wav")
    assert (rate, channels, width) == (8000, 1, 2)
    assert 1.5 < seconds < 6.0  # a short sentence, spoken
    samples = read_wav((folder / "welcome.wav").read_bytes()).samples
    assert rms(samples) > 500  # speech, not silence
    sln = (folder / "welcome.sln").read_bytes()
    assert len(sln) == 2 * len(samples) and sln == sln_bytes(Pcm(samples, 8000))
    ulaw = (folder / "welcome.ulaw").read_bytes()
    assert len(ulaw) == len(samples)  # one byte per 8 kHz sample
    assert rms(ulaw_decode(ulaw)) == pytest.approx(rms(samples), rel=0.05)
    assert result.prompts["welcome"].seconds == pytest.approx(seconds)


def test_build_a_voice_and_language_and_a_bad_voice(espeak_ng: str, tmp_path: Path) -> None:
    prompts = {"bienvenue": Prompt(text="Bienvenue chez Acme.", language="fr")}
    build_prompts(prompts, tmp_path, tmp_path / "build")
    assert read_back(tmp_path / "build" / "fr" / "bienvenue.wav")[:3] == (8000, 1, 2)
    with pytest.raises(PromptBuildError, match="espeak-ng failed with voice 'xx-nope'"):
        build_prompts({"x": Prompt(text="hello", voice="xx-nope")}, tmp_path, tmp_path / "b2")


def test_build_a_recorded_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    write_wav(tmp_path / "prompts" / "hold.wav", tone(440, 44100, 1.5), channels=2)
    prompts = {"hold": Prompt(file="prompts/hold.wav")}
    result = build_prompts(prompts, tmp_path, tmp_path / "build")
    rate, channels, width, seconds = read_back(tmp_path / "build" / "en" / "hold.wav")
    assert (rate, channels, width) == (8000, 1, 2)
    assert seconds == pytest.approx(1.5, abs=0.001)
    assert result.prompts["hold"].seconds == pytest.approx(1.5, abs=0.001)
    assert len((tmp_path / "build" / "en" / "hold.ulaw").read_bytes()) == 12000
    with pytest.raises(PromptBuildError, match=r"prompts\.gone\.file: cannot read"):
        build_prompts({"gone": Prompt(file="prompts/nope.wav")}, tmp_path, tmp_path / "build")


def test_only_what_changed_is_rebuilt_and_what_left_is_removed(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        write_wav(tmp_path / f"{name}.wav", tone(300, 8000, 0.2))
    prompts = {name: Prompt(file=f"{name}.wav") for name in ("a", "b", "c")}
    build = tmp_path / "build"
    progress: list[tuple[int, int, str]] = []
    first = build_prompts(prompts, tmp_path, build, progress=lambda *a: progress.append(a))
    assert first.built == ["a", "b", "c"]
    assert progress == [(1, 3, "a"), (2, 3, "b"), (3, 3, "c")]
    stamps = {p.name: p.stat().st_mtime_ns for p in (build / "en").iterdir()}

    write_wav(tmp_path / "b.wav", tone(600, 8000, 0.3))  # its content changed
    del prompts["c"]
    second = build_prompts(prompts, tmp_path, build)
    assert (second.built, second.unchanged, second.removed) == (["b"], ["a"], ["c"])
    assert sorted(p.name for p in (build / "en").iterdir()) == sorted(
        f"{n}{s}" for n in ("a", "b") for s in SUFFIXES
    )
    assert (build / "en" / "a.wav").stat().st_mtime_ns == stamps["a.wav"]
    assert read_back(build / "en" / "b.wav")[3] == pytest.approx(0.3)
    manifest = json.loads((build / "manifest.json").read_text())
    assert sorted(manifest["prompts"]) == ["a", "b"]
    assert read_manifest(build)["b"].hash == manifest["prompts"]["b"]["hash"]

    (build / "en" / "a.sln").unlink()  # a file lost from the build: made again
    assert build_prompts(prompts, tmp_path, build).built == ["a"]
    assert build_prompts(prompts, tmp_path, build, force=True).built == ["a", "b"]


# --- install ----------------------------------------------------------------------------------


def test_install_into_asterisk_sounds_and_remove_unused(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_wav(tmp_path / f"{name}.wav", tone(300, 8000, 0.2))
    sounds = tmp_path / "sounds"
    (sounds / "en").mkdir(parents=True)
    (sounds / "en" / "hello-world.gsm").write_bytes(b"core")  # Asterisk's own: never touched
    build = tmp_path / "build"
    prompts = {"a": Prompt(file="a.wav"), "b": Prompt(file="b.wav", language="fr")}
    built = build_prompts(prompts, tmp_path, build).prompts

    first = install_prompts(built, build, sounds)
    assert sorted(str(p.relative_to(sounds)) for p in first.written) == sorted(
        [f"en/callcenter/a{s}" for s in SUFFIXES] + [f"fr/callcenter/b{s}" for s in SUFFIXES]
    )
    installed = sounds / "en" / "callcenter" / "a.ulaw"
    assert installed.read_bytes() == (build / "en" / "a.ulaw").read_bytes()
    assert oct(installed.stat().st_mode & 0o777) == "0o644"
    assert not [p for p in (sounds / "en" / "callcenter").iterdir() if p.name.startswith(".")]
    assert not install_prompts(built, build, sounds).changed  # nothing to do twice

    built = build_prompts({"a": prompts["a"]}, tmp_path, build).prompts
    assert planned_changes(built, build, sounds).removed  # a dry look changes nothing
    second = install_prompts(built, build, sounds)
    assert sorted(p.name for p in second.removed) == sorted(f"b{s}" for s in SUFFIXES)
    assert not (sounds / "fr" / "callcenter").exists()
    assert (sounds / "en" / "hello-world.gsm").read_bytes() == b"core"


# --- CLI --------------------------------------------------------------------------------------


def test_prompts_build_and_play_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    example = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
    data = yaml.safe_load(example.read_text())
    write_wav(tmp_path / "tone.wav", tone(440, 16000, 0.4))
    data["prompts"] = {pid: {"file": "tone.wav"} for pid in data["prompts"]}
    config = tmp_path / "callcenter.yaml"
    config.write_text(yaml.safe_dump(data))
    build = tmp_path / "build"
    runner = CliRunner()
    result = runner.invoke(
        main, ["prompts", "build", "-c", str(config), "--build-dir", str(build), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.output)["built"]) == sorted(data["prompts"])
    again = runner.invoke(main, ["prompts", "build", "-c", str(config), "--build-dir", str(build)])
    assert again.output.splitlines()[-1] == (
        f"0 built, {len(data['prompts'])} unchanged, 0 removed in {build}"
    )
    # `play` runs sox's play (or aplay) on the 8 kHz WAV: a stand-in records its argument.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    player = bin_dir / "play"
    player.write_text(f'#!/bin/sh\necho "$1" > {tmp_path / "played"}\n')
    player.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    played = runner.invoke(
        main, ["prompts", "play", "welcome", "-c", str(config), "--build-dir", str(build)]
    )
    assert played.exit_code == 0, played.output
    assert (tmp_path / "played").read_text().strip() == str(build / "en" / "welcome.wav")
    unknown = runner.invoke(main, ["prompts", "play", "nope", "-c", str(config)])
    assert unknown.exit_code == 2 and "no prompt 'nope' in the config" in unknown.output
