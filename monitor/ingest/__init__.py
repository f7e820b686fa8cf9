"""Ingest: every way a post comes in, up to the record the store keeps. `core` turns an
untrusted RawPost into a Post (normalised, bounded, pseudonymised, placed; pure), `service` does
it with the key ring, `schema` and `bounds` are the validated record at the boundary, `places`
the gazetteers and their matcher, `replay` the import format's parser and `importer` the
resumable file import."""
