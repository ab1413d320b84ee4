"""A written description of each of the 14 mmSSR capabilities, for the embedding-based proxy.

The descriptions read like the instruction data they should match (questions and answers that
exercise the capability), because they are compared with sample text in embedding space.
"""

from __future__ import annotations

from schemas.contract import CAPABILITIES

DESCRIPTIONS: dict[str, str] = {
    "object spatial understanding":
        "Where is the object located in the image? Left, right, above, below, next to, behind, "
        "in front of; positions, distances, bounding boxes and counting objects in the scene.",
    "attribute identification":
        "What color, shape, size, material or texture is the object? Describe the attributes "
        "and properties of the person or item, such as its clothing, colour and pattern.",
    "logical deduction":
        "Solve the puzzle by reasoning logically from the clues in the image; infer the answer "
        "from premises, rules, patterns and elimination.",
    "scene understanding":
        "Describe the overall scene: where was this photo taken, what is the setting, the "
        "environment, indoor or outdoor, the weather, and what is happening in the image.",
    "fine-grained recognition":
        "Identify the exact species, breed, model, brand or landmark: what kind of bird, dog "
        "breed, car model, flower species or famous building is this?",
    "language generation":
        "Write a story, poem, caption, advertisement or creative description inspired by the "
        "image; compose fluent, well-structured long text.",
    "in-context learning":
        "Following the examples given above, answer in the same pattern; learn the format or "
        "rule from the demonstrations in the conversation and apply it to a new case.",
    "comparative analysis":
        "Compare the two images or objects: what are the differences and similarities, which "
        "one is larger, older, more expensive or better?",
    "activity recognition":
        "What is the person doing? Recognise the action, activity, sport, gesture or motion "
        "of the people and animals, such as running, cooking or playing.",
    "causal reasoning":
        "Why did this happen and what will happen next? Explain the cause and effect, the "
        "reason for the situation, and predict the consequences.",
    "humanities":
        "Questions about art, history, culture, religion, literature, music, painting styles, "
        "historical events, artists and social customs shown in the image.",
    "stem knowledge":
        "Science, technology, engineering and mathematics: solve the math problem, physics, "
        "chemistry, biology or geometry question in the figure, with equations and formulas.",
    "data understanding":
        "Read the chart, table, graph, plot or diagram: what is the value, the trend, the "
        "maximum, the percentage, the axis labels and the data shown?",
    "optical character recognition":
        "What does the text in the image say? Read the written words, letters, numbers, signs, "
        "labels, documents, receipts and screen text.",
}

assert tuple(DESCRIPTIONS) == CAPABILITIES  # one description per capability, in contract order
