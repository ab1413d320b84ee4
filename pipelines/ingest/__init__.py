"""Readers for the formats of this field (`registry.reader_for`); the stage that runs them is
`pipelines.stages.ingest`."""
