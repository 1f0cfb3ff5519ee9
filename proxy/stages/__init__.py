"""The stages of the exchange pipeline, one file each, in the order they run."""
