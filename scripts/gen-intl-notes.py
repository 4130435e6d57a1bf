#!/usr/bin/env python3
# LocalGPT for Swift. Apache-2.0.
#
# Generates a workspace of notes in one or more scripts, for measuring keyword indexing of
# non-Latin text (docs/PERFORMANCE.md, "Memory (issue 4)"): N files of ~2 KB under
# <root>/memory/<n/100>/, each a heading and list items of two sentences in the file's language.
#
#   scripts/gen-intl-notes.py ROOT N LANGS      e.g.  scripts/gen-intl-notes.py /tmp/ws-zh 1000 zh
#
# LANGS is a comma-separated list of zh, ja, ar, he, hi, ta, ko, de, ru (files take them in
# turn). Deterministic (seeded). The sentences are everyday notes written for this script.
import os
import random
import sys

SAMPLES = {
    "zh": [
        "今天下午我和王老师在图书馆讨论了新的研究计划。",
        "明天早上九点要去医院复查，记得带上病历本。",
        "周末打算去西湖边散步，顺便拍一些照片。",
        "这个月的电费比上个月高了不少，需要检查一下空调。",
        "妈妈说下周三回家吃饭，要准备她喜欢的红烧肉。",
    ],
    "ja": [
        "昨日の会議で新しいプロジェクトの予算が承認されました。",
        "来週の金曜日に東京で友達と会う予定です。",
        "ラーメン屋さんの新しいメニューはとても美味しかった。",
        "パスワードを変更するのを忘れないでください。",
        "ｶﾀｶﾅの半角文字と全角ＡＢＣも混ざっています。",
    ],
    "ar": [
        "اجتمعنا اليوم لمناقشة خطة المشروع الجديد.",
        "يجب أن أتصل بالطبيب صباح الغد.",
        "ذهبت العائلة إلى الحديقة يوم الجمعة.",
        "الكتاب الذي قرأته الأسبوع الماضي كان ممتعاً جداً.",
    ],
    "he": [
        "היום נפגשנו כדי לדבר על התוכנית החדשה.",
        "מחר בבוקר אני צריך להתקשר לרופא.",
        "המשפחה הלכה לפארק ביום שישי.",
        "שָׁלוֹם לכולם, הפגישה נדחתה לשבוע הבא.",
    ],
    "hi": [
        "आज हमने नई परियोजना की योजना पर चर्चा की।",
        "कल सुबह मुझे डॉक्टर को फोन करना है।",
        "परिवार शुक्रवार को पार्क गया था।",
        "नमस्ते, बैठक अगले सप्ताह तक टाल दी गई है।",
    ],
    "ta": [
        "இன்று புதிய திட்டத்தைப் பற்றி நாங்கள் பேசினோம்.",
        "நாளை காலை மருத்துவரை அழைக்க வேண்டும்.",
        "குடும்பம் வெள்ளிக்கிழமை பூங்காவுக்குச் சென்றது.",
        "கூட்டம் அடுத்த வாரத்திற்கு ஒத்திவைக்கப்பட்டது.",
    ],
    "ko": [
        "오늘 오후에 새 프로젝트 계획을 논의했습니다.",
        "내일 아침 아홉 시에 병원에 가야 합니다.",
        "가족이 금요일에 공원에 갔습니다.",
        "회의가 다음 주로 연기되었습니다.",
    ],
    "de": [
        "Heute haben wir den Plan für das neue Projekt besprochen.",
        "Morgen früh muss ich die Ärztin anrufen, wegen der Überweisung.",
        "Die Familie ist am Freitag in den Park gegangen, trotz der Hitze.",
        "Die Besprechung wurde auf nächste Woche verschoben; Straße gesperrt.",
    ],
    "ru": [
        "Сегодня мы обсудили план нового проекта.",
        "Завтра утром нужно позвонить врачу.",
        "В пятницу семья ходила в парк, несмотря на жару.",
        "Встреча перенесена на следующую неделю; Ёлка уже стоит.",
    ],
}


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(f"usage: scripts/gen-intl-notes.py ROOT N LANGS ({', '.join(SAMPLES)}; comma-separated)")
    root, count, langs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
    for lang in langs:
        if lang not in SAMPLES:
            sys.exit(f"unknown language {lang}: use {', '.join(SAMPLES)}")
    random.seed(7)
    for i in range(count):
        folder = os.path.join(root, "memory", str(i // 100))
        os.makedirs(folder, exist_ok=True)
        lang = langs[i % len(langs)]
        lines = [f"# 笔记 {i}" if lang in ("zh", "ja") else f"# note {i}", ""]
        size = 0
        while size < 2000:
            item = "- " + " ".join(random.choice(SAMPLES[lang]) for _ in range(2)) + f" ({random.randint(1, 9999)})"
            lines.append(item)
            size += len(item.encode())
        with open(os.path.join(folder, f"n{i}.md"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
