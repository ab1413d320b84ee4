"""The dataset directory on disk: shards, images, side inputs, validation, the card, publishing."""
