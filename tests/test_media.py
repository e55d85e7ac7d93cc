import numpy as np
import pytest

from acpo_bench.media import (
    MediaError,
    MediaSpec,
    apply_gain,
    content_id,
    decode_audio,
    decode_video,
    fit_length,
    noise_floor,
    rms_dbfs,
    write_mp4,
)
from acpo_bench.media_store import MediaStore
from acpo_bench.schemas import AudioRecipe
from tests.mediafiles import frames, tone, write


def onset_of(audio: np.ndarray, threshold: float = 0.1) -> int:
    return int(np.argmax(np.abs(audio) > threshold))


def test_mp4_roundtrip_keeps_frames_and_aligns_audio(tmp_path):
    path = tmp_path / "clip.mp4"
    write_mp4(path, frames(8, (64, 48)), 8, tone(1.0, onset=0.5))
    video = decode_video(path, MediaSpec(frames=2))
    assert video.frames.shape == (2, 48, 64, 3)
    assert video.duration == pytest.approx(1.0)
    # the frame on screen at t = 0.25 s is frame 2 (grey 40), at 0.75 s frame 6 (grey 120); h264 is lossy
    assert video.frames[:, 24, 32, 0].tolist() == pytest.approx([40, 120], abs=4)
    audio = decode_audio(path)
    assert abs(onset_of(audio) - 8000) <= 16, "AAC priming samples must be trimmed"


def test_frames_at_fps(tmp_path):
    path = write_mp4_simple(tmp_path)
    video = decode_video(path, MediaSpec(frames=None, fps=4))
    assert len(video.frames) == 4
    assert video.times.tolist() == pytest.approx([0.125, 0.375, 0.625, 0.875])


def write_mp4_simple(tmp_path, seconds=1.0):
    path = tmp_path / "simple.mp4"
    write_mp4(path, frames(int(8 * seconds)), 8, tone(seconds))
    return path


@pytest.mark.parametrize(("suffix", "vcodec", "acodec"), [
    (".mkv", "libx264", "aac"), (".webm", "libvpx-vp9", "libopus"), (".avi", "mpeg4", "libmp3lame"),
    (".mp4", "mpeg4", "aac"),
])
def test_video_containers(tmp_path, suffix, vcodec, acodec):
    sr = 48_000 if acodec == "libopus" else 16_000
    path = write(tmp_path / f"clip{suffix}", frames(8), tone(1.0, sr=sr, onset=0.5, freq=300), vcodec=vcodec,
                 acodec=acodec, sr=sr)
    video = decode_video(path, MediaSpec(frames=4))
    assert video.frames.shape[0] == 4
    audio = decode_audio(path)
    assert 0.9 * 16000 <= len(audio) <= 1.2 * 16000
    assert abs(onset_of(audio) - 8000) <= 1200  # codec delays differ; the tone still starts near 0.5 s


@pytest.mark.parametrize(("suffix", "codec", "sr", "channels"), [
    (".wav", "pcm_s16le", 44_100, 2), (".flac", "flac", 22_050, 1), (".ogg", "libopus", 48_000, 1),
    (".mp3", "libmp3lame", 44_100, 2), (".wav", "pcm_s16le", 96_000, 8),
])
def test_audio_only_files_decode_to_mono_16k(tmp_path, suffix, codec, sr, channels):
    path = write(tmp_path / f"a{suffix}", None, tone(1.0, sr=sr, freq=440), acodec=codec, sr=sr, channels=channels)
    audio = decode_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.95 * 16000 <= len(audio) <= 1.15 * 16000
    # downmixing identical channels keeps the level: RMS of a 0.3 sine is ~-13.5 dBFS
    assert rms_dbfs(audio[2000:14000]) == pytest.approx(-13.5, abs=1.5)


def test_fit_length_loops_or_trims():
    base = np.arange(5, dtype=np.float32)
    assert fit_length(base, 12).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    assert fit_length(base, 3).tolist() == [0, 1, 2]
    assert fit_length(base, 7, loop=False).tolist() == [0, 1, 2, 3, 4, 0, 0]


def test_noise_floor_and_gain_levels():
    rng = np.random.default_rng(0)
    noise = noise_floor(160_000, -40, rng)
    assert rms_dbfs(noise) == pytest.approx(-40, abs=0.1)
    assert rms_dbfs(apply_gain(noise, 6)) == pytest.approx(-34, abs=0.1)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.mkdir(), "directory"),
    (lambda p: p.write_bytes(b"not a video at all" * 100), "cannot open"),
    (lambda p: None, "not found"),
])
def test_unreadable_files_raise_media_error_with_reason(tmp_path, make, reason):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(MediaError, match=reason):
        decode_video(path, MediaSpec())


def test_video_without_audio_stream(tmp_path):
    path = write(tmp_path / "mute.mp4", frames(8), None)
    assert decode_video(path, MediaSpec()).frames.shape[0] == 2
    with pytest.raises(MediaError, match="no audio stream"):
        decode_audio(path)


def test_audio_file_given_as_video(tmp_path):
    path = write(tmp_path / "sound.wav", None, tone(1.0), acodec="pcm_s16le")
    with pytest.raises(MediaError, match="no video stream"):
        decode_video(path, MediaSpec())


def test_truncated_mp4_is_an_error_or_a_shorter_decode(tmp_path):
    path = write_mp4_simple(tmp_path, seconds=2.0)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 3])
    with pytest.raises(MediaError):
        decode_video(path, MediaSpec())


def test_media_store_applies_recipes_and_decodes_each_file_once(tmp_path, monkeypatch):
    video = write_mp4_simple(tmp_path)
    other = write(tmp_path / "other.wav", None, tone(0.3, freq=880), acodec="pcm_s16le")
    calls = []
    import acpo_bench.media_store as ms

    real = ms.decode_audio
    monkeypatch.setattr(ms, "decode_audio", lambda p, sr: calls.append(p) or real(p, sr))
    store = MediaStore(MediaSpec(frames=2))
    vid = content_id(video)
    own = store.load(str(video), vid, AudioRecipe("own"))
    swap = AudioRecipe("swap", source=str(other), source_id=content_id(other))
    swapped = store.load(str(video), vid, swap)
    again = store.load(str(video), vid, swap)
    silent = store.load(str(video), vid, AudioRecipe("silence"))
    noisy = store.load(str(video), vid, AudioRecipe("noise", noise_dbfs=-40))
    quiet = store.load(str(video), vid, AudioRecipe("own", gain_db=-20))
    assert len(own.audio) == len(swapped.audio) == len(silent.audio) == 16000
    assert np.array_equal(swapped.audio, again.audio)
    assert np.array_equal(swapped.audio[:4800], swapped.audio[4800:9600]), "a short swap source is looped"
    assert not silent.audio.any()
    assert rms_dbfs(noisy.audio) == pytest.approx(-40, abs=0.3)
    assert np.array_equal(noisy.audio, store.load(str(video), vid, AudioRecipe("noise", noise_dbfs=-40)).audio)
    assert rms_dbfs(quiet.audio) == pytest.approx(rms_dbfs(own.audio) - 20, abs=0.1)
    assert sorted(calls) == sorted([str(video), str(other)]), "each file is decoded once per run"


def test_content_id_depends_on_bytes_not_path(tmp_path):
    a = write_mp4_simple(tmp_path)
    b = tmp_path / "copy.mp4"
    b.write_bytes(a.read_bytes())
    assert content_id(a) == content_id(b)
    write_mp4(b, frames(8) + 1, 8, tone(1.0))
    assert content_id(a) != content_id(b)
