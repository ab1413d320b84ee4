"""Selection (mmSSR, random, DEITA, k-means) and duplicate finding, on numpy arrays."""
