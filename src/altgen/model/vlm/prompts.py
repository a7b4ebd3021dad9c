"""altgen's alt-text instructions, one per language and detail: what every vision-language model is asked,
whether it runs in this process or behind an OpenAI-compatible engine."""

PROMPTS = {
    ("en", "alt"): (
        "Write alt text for this photo for a blind reader: one or two short sentences saying what it shows, "
        "most important first. Do not start with 'image of' or 'photo of'. Do not guess names or text you cannot read."
    ),
    ("en", "long"): (
        "Describe this photo for a blind reader in a few complete sentences: the main subject first, then the "
        "setting, any people and what they are doing, notable colours, and any text you can read clearly. "
        "Do not start with 'image of' or 'photo of'. Do not guess names."
    ),
    ("ko", "alt"): (
        "시각장애인을 위한 이 사진의 대체 텍스트를 한국어로 써 주세요. 사진에 보이는 것을 중요한 것부터 한두 문장으로 "
        "짧게 설명하고, '사진' 또는 '이미지'로 시작하지 마세요."
    ),
    ("ko", "long"): (
        "시각장애인을 위해 이 사진을 한국어로 자세히 설명해 주세요. 주요 대상부터 시작해 배경, 사람과 하는 일, 눈에 띄는 색, "
        "분명히 읽을 수 있는 글자를 몇 개의 완전한 문장으로 쓰고, '사진' 또는 '이미지'로 시작하지 마세요."
    ),
}
