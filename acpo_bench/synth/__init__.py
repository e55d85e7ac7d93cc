"""The synthetic audio-visual world: procedural sound sources with glyphs and sounds, written as real mp4 clips."""
