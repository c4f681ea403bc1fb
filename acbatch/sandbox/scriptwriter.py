"""The sandbox's offline script step: a deterministic podcast script built from the source itself.

The source is split into sentences, deduplicated and ranked; the best ones (back in source order)
become the body of a dialogue shaped by the requested style, joined by connective phrases in the
requested language, until the duration level's length budget is met. Same input, same script.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from acbatch.codes import DURATION_BY_LEVEL, STYLE_NAMES, DurationLevel
from acbatch.voices import Voice

# --------------------------------------------------------------------------------------------
# Phrase tables. Templates use {name}, {names}, {title}, {topic} and {style}. Japanese stays in
# kana because the offline speech engine cannot read kanji.

_EN: dict[str, Any] = {
    "styles": (
        "educational",
        "interview",
        "deep dive",
        "storytelling",
        "news",
        "talk show",
        "personal growth",
        "comedy",
        "roast",
    ),
    "welcome": (
        "Welcome to this {style} episode. I'm {name}, and today we're talking about {title}.",
        "Hello and welcome to a new {style} episode. I'm {name}. Today's topic: {title}.",
    ),
    "introduce": ("Joining me today: {names}.", "With me today: {names}."),
    "and": " and ",
    "greet": ("Thanks for having me, {name}.", "Great to be here, {name}.", "Happy to be here."),
    "topic": (
        "Let's talk about this: {topic}.",
        "Here's a key point: {topic}.",
        "Consider this: {topic}.",
    ),
    "ask": ("Can you explain that?", "What should we know about it?", "How does that work?"),
    "followup": ("Why does that matter?", "Can you tell us more?", "What else stands out?"),
    "reaction": ("That's interesting.", "I see.", "That makes sense."),
    "curious": ("And then what happened?", "Go on, I'm listening.", "How does it continue?"),
    "excited": ("No way!", "Wow, really?", "That's wild!"),
    "funny": ("Wait, seriously?", "I did not see that coming.", "Okay, that's hilarious."),
    "tease": (
        "Oh please, {name}, everybody knew that.",
        "Wow, {name}, groundbreaking stuff.",
        "Slow down, {name}, you'll hurt yourself thinking.",
    ),
    "reflect": (
        "What can we learn from this?",
        "There's a real lesson in that.",
        "How can our listeners use this?",
    ),
    "headline": ("Our next story: {topic}.", "Turning to another story: {topic}."),
    "handoff": ("{name}, what do we know?", "{name}, over to you."),
    "back": ("Back to you, {name}.", "That's the latest. Back to you, {name}."),
    "story": ("Let me tell you a story.", "Here is how it unfolds."),
    "transition": ("Moving on.", "Next up.", "Now, something else."),
    "lead_in": ("Good question.", "Sure.", "Glad you asked."),
    "revisit": ("It's worth repeating:", "Remember this:", "One more time, because it matters:"),
    "recap": ("To sum up:", "In short:"),
    "outro": ("That's all for today. Thanks for listening!", "Thanks for joining us. Bye for now!"),
    "farewell": ("Thanks, {name}. Bye, everyone!", "Bye, everyone!"),
    "summary": "In this episode:",
    "default_title": "today's topic",
    "speaker": "Speaker",
}

_ZH: dict[str, Any] = {
    "styles": (
        "教育",
        "访谈",
        "深度解析",
        "讲故事",
        "新闻报道",
        "脱口秀",
        "个人成长",
        "搞笑",
        "吐槽",
    ),
    "welcome": (
        "欢迎收听本期{style}节目。我是{name}，今天我们来聊聊{title}。",
        "大家好，欢迎收听新一期{style}节目。我是{name}。今天的话题是{title}。",
    ),
    "introduce": ("今天和我一起的是{names}。", "今天的嘉宾是{names}。"),
    "and": "和",
    "greet": ("谢谢邀请，{name}。", "很高兴来到这里，{name}。"),
    "topic": ("我们来谈谈这一点：{topic}。", "下一个要点是：{topic}。"),
    "ask": ("你能解释一下吗？", "这是怎么回事呢？"),
    "followup": ("为什么这很重要？", "能再多说一点吗？"),
    "reaction": ("很有意思。", "原来如此。"),
    "curious": ("然后发生了什么？", "继续说，我在听。"),
    "excited": ("不会吧！", "哇，真的吗？"),
    "funny": ("等等，你是认真的吗？", "这也太好笑了。"),
    "tease": ("拜托，{name}，这谁不知道啊。", "哇，{name}，真是重大发现。"),
    "reflect": ("我们能从中学到什么？", "这里面有很好的启发。"),
    "headline": ("下一条新闻：{topic}。", "接下来看另一条消息：{topic}。"),
    "handoff": ("{name}，请你来介绍一下。", "{name}，交给你了。"),
    "back": ("以上是现场报道，交还给{name}。",),
    "story": ("让我给你讲一个故事。", "故事是这样展开的。"),
    "transition": ("我们继续。", "接下来换个话题。"),
    "lead_in": ("好问题。", "当然。"),
    "revisit": ("这一点值得再说一遍：", "换句话说，"),
    "recap": ("总结一下，", "简单来说，"),
    "outro": ("今天就到这里，感谢收听！", "感谢大家的陪伴，我们下期再见！"),
    "farewell": ("谢谢你，{name}。大家再见！", "再见！"),
    "summary": "本期内容：",
    "default_title": "今天的话题",
    "speaker": "说话人",
}

_YUE: dict[str, Any] = {
    "styles": (
        "教育",
        "訪問",
        "深入探討",
        "講故事",
        "新聞報道",
        "清談節目",
        "個人成長",
        "搞笑",
        "寸爆",
    ),
    "welcome": (
        "歡迎收聽今集{style}節目。我係{name}，今日我哋傾下{title}。",
        "大家好，歡迎收聽新一集{style}節目。我係{name}。今日嘅話題係{title}。",
    ),
    "introduce": ("今日同我一齊嘅係{names}。", "今日嘅嘉賓係{names}。"),
    "and": "同",
    "greet": ("多謝邀請，{name}。", "好開心嚟到呢度，{name}。"),
    "topic": ("我哋講下呢點：{topic}。", "下一個重點係：{topic}。"),
    "ask": ("你可唔可以解釋下？", "呢個係點嘅呢？"),
    "followup": ("點解咁重要？", "可唔可以講多啲？"),
    "reaction": ("好有趣。", "原來係咁。"),
    "curious": ("跟住點呀？", "繼續講，我聽緊。"),
    "excited": ("唔係嘛！", "嘩，真係㗎？"),
    "funny": ("等陣，你講真㗎？", "真係笑死人。"),
    "tease": ("唔該你啦，{name}，呢啲邊個唔知呀。", "嘩，{name}，真係驚天大發現。"),
    "reflect": ("我哋可以從中學到啲乜？", "呢度有好好嘅啟發。"),
    "headline": ("下一段新聞：{topic}。", "跟住睇另一則消息：{topic}。"),
    "handoff": ("{name}，交俾你。", "{name}，請你講下。"),
    "back": ("以上係現場報道，交返俾{name}。",),
    "story": ("等我講個故事俾你聽。", "故事係咁發展落去嘅。"),
    "transition": ("我哋繼續。", "跟住講下第樣嘢。"),
    "lead_in": ("好問題。", "當然。"),
    "revisit": ("呢點值得再講一次：", "換句話講，"),
    "recap": ("總括嚟講，", "簡單啲講，"),
    "outro": ("今日就講到呢度，多謝收聽！", "多謝大家，我哋下集再見！"),
    "farewell": ("多謝你，{name}。大家拜拜！", "拜拜！"),
    "summary": "今集內容：",
    "default_title": "今日嘅話題",
    "speaker": "講者",
}

_AR: dict[str, Any] = {
    "styles": (
        "تعليمية",
        "مقابلة",
        "تحليل معمق",
        "قصة",
        "نشرة أخبار",
        "برنامج حواري",
        "تطوير ذاتي",
        "فكاهة",
        "سخرية",
    ),
    "welcome": (
        "مرحبا بكم في حلقة جديدة. النوع: {style}. أنا {name}، واليوم نتحدث عن {title}.",
        "أهلا وسهلا بكم. النوع: {style}. معكم {name}، وموضوعنا اليوم: {title}.",
    ),
    "introduce": ("معي اليوم {names}.", "ضيوفنا اليوم: {names}."),
    "and": " و",
    "greet": ("شكرا على الاستضافة يا {name}.", "سعيد بوجودي هنا يا {name}."),
    "topic": ("لنتحدث عن هذه النقطة: {topic}.", "النقطة التالية: {topic}."),
    "ask": ("هل يمكنك أن تشرح ذلك؟", "ماذا يعني ذلك؟"),
    "followup": ("لماذا هذا مهم؟", "هل يمكنك أن تخبرنا المزيد؟"),
    "reaction": ("هذا مثير للاهتمام.", "فهمت."),
    "curious": ("وماذا حدث بعد ذلك؟", "تابع، أنا أستمع."),
    "excited": ("لا يمكن!", "واو، حقا؟"),
    "funny": ("لحظة، هل أنت جاد؟", "هذا مضحك جدا."),
    "tease": ("بالله عليك يا {name}، الجميع يعرف ذلك.", "رائع يا {name}، اكتشاف عظيم."),
    "reflect": ("ماذا يمكن أن نتعلم من هذا؟", "في هذا درس حقيقي."),
    "headline": ("خبرنا التالي: {topic}.", "وننتقل إلى خبر آخر: {topic}."),
    "handoff": ("{name}، ماذا لديك؟", "{name}، الكلمة لك."),
    "back": ("أعود إليك يا {name}.",),
    "story": ("دعني أحكي لك قصة.", "وهكذا تتواصل القصة."),
    "transition": ("لننتقل إلى نقطة أخرى.", "والآن إلى موضوع آخر."),
    "lead_in": ("سؤال جيد.", "بالتأكيد."),
    "revisit": ("هذه النقطة تستحق التكرار:", "بعبارة أخرى،"),
    "recap": ("باختصار،", "خلاصة القول،"),
    "outro": ("هذا كل شيء لهذا اليوم. شكرا للاستماع!", "شكرا لمتابعتكم، إلى اللقاء!"),
    "farewell": ("شكرا يا {name}. إلى اللقاء جميعا!", "إلى اللقاء!"),
    "summary": "في هذه الحلقة:",
    "default_title": "موضوع اليوم",
    "speaker": "المتحدث",
}

_RU: dict[str, Any] = {
    "styles": (
        "обучение",
        "интервью",
        "глубокий разбор",
        "история",
        "новости",
        "ток-шоу",
        "личностный рост",
        "юмор",
        "прожарка",
    ),
    "welcome": (
        "Добро пожаловать в новый выпуск. Формат: {style}. Меня зовут {name}. Тема: {title}.",
        "Здравствуйте! Формат выпуска: {style}. С вами {name}. Сегодня говорим о теме: {title}.",
    ),
    "introduce": ("Сегодня со мной {names}.", "В студии: {names}."),
    "and": " и ",
    "greet": ("Спасибо за приглашение, {name}.", "Рад быть здесь, {name}."),
    "topic": ("Давайте поговорим об этом: {topic}.", "Следующий момент: {topic}."),
    "ask": ("Можете объяснить?", "Что это значит?"),
    "followup": ("Почему это важно?", "Расскажите подробнее."),
    "reaction": ("Интересно.", "Понятно."),
    "curious": ("И что было дальше?", "Продолжайте, я слушаю."),
    "excited": ("Не может быть!", "Ого, правда?"),
    "funny": ("Подождите, серьёзно?", "Это очень смешно."),
    "tease": ("Ну что вы, {name}, это все знают.", "Браво, {name}, настоящее открытие."),
    "reflect": ("Чему нас это учит?", "В этом есть настоящий урок."),
    "headline": ("Следующая новость: {topic}.", "К другим новостям: {topic}."),
    "handoff": ("{name}, что известно?", "{name}, вам слово."),
    "back": ("Возвращаю слово вам, {name}.",),
    "story": ("Позвольте рассказать вам историю.", "Вот как развивались события."),
    "transition": ("Идём дальше.", "Перейдём к следующему."),
    "lead_in": ("Хороший вопрос.", "Конечно."),
    "revisit": ("Это стоит повторить:", "Другими словами,"),
    "recap": ("Подводя итог,", "Короче говоря,"),
    "outro": ("На сегодня всё. Спасибо, что слушали!", "Спасибо, что были с нами. До встречи!"),
    "farewell": ("Спасибо, {name}. Всем пока!", "До свидания!"),
    "summary": "В этом выпуске:",
    "default_title": "тема дня",
    "speaker": "Спикер",
}

_ES: dict[str, Any] = {
    "styles": (
        "educativo",
        "entrevista",
        "análisis a fondo",
        "narración",
        "noticias",
        "tertulia",
        "crecimiento personal",
        "humor",
        "sátira",
    ),
    "welcome": (
        "Bienvenidos a un nuevo episodio. Formato: {style}. Soy {name} y hoy hablamos de {title}.",
        "Hola y bienvenidos. Formato: {style}. Les habla {name}. El tema de hoy: {title}.",
    ),
    "introduce": ("Hoy están conmigo: {names}.", "Me acompañan hoy: {names}."),
    "and": " y ",
    "greet": ("Gracias por invitarme, {name}.", "Encantado de estar aquí, {name}."),
    "topic": ("Hablemos de esto: {topic}.", "El siguiente punto: {topic}."),
    "ask": ("¿Puedes explicarlo?", "¿Qué significa eso?"),
    "followup": ("¿Por qué es importante?", "¿Puedes contarnos más?"),
    "reaction": ("Qué interesante.", "Ya veo."),
    "curious": ("¿Y qué pasó después?", "Sigue, te escucho."),
    "excited": ("¡No puede ser!", "¡Vaya! ¿De verdad?"),
    "funny": ("Espera, ¿en serio?", "Eso es divertidísimo."),
    "tease": (
        "Por favor, {name}, eso lo sabe todo el mundo.",
        "Vaya, {name}, qué gran descubrimiento.",
    ),
    "reflect": ("¿Qué podemos aprender de esto?", "Aquí hay una gran lección."),
    "headline": ("Nuestra siguiente noticia: {topic}.", "Pasamos a otra noticia: {topic}."),
    "handoff": ("{name}, ¿qué sabemos?", "{name}, adelante."),
    "back": ("Te devuelvo la palabra, {name}.",),
    "story": ("Déjame contarte una historia.", "Así sigue la historia."),
    "transition": ("Sigamos.", "Pasemos a otra cosa."),
    "lead_in": ("Buena pregunta.", "Claro."),
    "revisit": ("Vale la pena repetirlo:", "Dicho de otra manera,"),
    "recap": ("En resumen,", "En pocas palabras,"),
    "outro": (
        "Eso es todo por hoy. ¡Gracias por escuchar!",
        "Gracias por acompañarnos. ¡Hasta pronto!",
    ),
    "farewell": ("Gracias, {name}. ¡Adiós a todos!", "¡Adiós!"),
    "summary": "En este episodio:",
    "default_title": "el tema de hoy",
    "speaker": "Hablante",
}

_FR: dict[str, Any] = {
    "styles": (
        "éducatif",
        "interview",
        "analyse approfondie",
        "récit",
        "journal",
        "talk-show",
        "développement personnel",
        "humour",
        "clash",
    ),
    "welcome": (
        "Bienvenue dans ce nouvel épisode. Format : {style}. Je suis {name}. Sujet : {title}.",
        "Bonjour et bienvenue. Format : {style}. Ici {name}, et nous parlons de {title}.",
    ),
    "introduce": ("Avec moi aujourd'hui : {names}.", "Autour de la table : {names}."),
    "and": " et ",
    "greet": ("Merci de m'avoir invité, {name}.", "Ravi d'être ici, {name}."),
    "topic": ("Parlons de ceci : {topic}.", "Point suivant : {topic}."),
    "ask": ("Tu peux nous expliquer ?", "Qu'est-ce que cela veut dire ?"),
    "followup": ("Pourquoi est-ce important ?", "Tu peux nous en dire plus ?"),
    "reaction": ("C'est intéressant.", "Je vois."),
    "curious": ("Et ensuite, que s'est-il passé ?", "Continue, je t'écoute."),
    "excited": ("Pas possible !", "Waouh, vraiment ?"),
    "funny": ("Attends, sérieusement ?", "C'est trop drôle."),
    "tease": ("Allons, {name}, tout le monde le sait.", "Bravo, {name}, quelle découverte."),
    "reflect": ("Qu'est-ce qu'on peut en retenir ?", "Il y a une vraie leçon là-dedans."),
    "headline": (
        "Notre prochaine information : {topic}.",
        "Passons à une autre nouvelle : {topic}.",
    ),
    "handoff": ("{name}, que sait-on ?", "{name}, à toi."),
    "back": ("Je te rends l'antenne, {name}.",),
    "story": ("Laisse-moi te raconter une histoire.", "Voici comment l'histoire continue."),
    "transition": ("Passons à la suite.", "Changeons de sujet."),
    "lead_in": ("Bonne question.", "Bien sûr."),
    "revisit": ("Cela vaut la peine de le répéter :", "Autrement dit,"),
    "recap": ("En résumé,", "Pour faire court,"),
    "outro": ("C'est tout pour aujourd'hui. Merci de nous avoir écoutés !", "À la prochaine !"),
    "farewell": ("Merci, {name}. Au revoir à tous !", "Au revoir !"),
    "summary": "Dans cet épisode :",
    "default_title": "le sujet du jour",
    "speaker": "Intervenant",
}

_PT: dict[str, Any] = {
    "styles": (
        "educativo",
        "entrevista",
        "análise profunda",
        "narrativa",
        "notícias",
        "talk show",
        "crescimento pessoal",
        "humor",
        "zoeira",
    ),
    "welcome": (
        "Bem-vindos a mais um episódio. Formato: {style}. Eu sou {name}. O tema de hoje: {title}.",
        "Olá e bem-vindos. Formato: {style}. Aqui é {name}, e hoje falamos sobre {title}.",
    ),
    "introduce": ("Hoje estão comigo: {names}.", "Comigo hoje: {names}."),
    "and": " e ",
    "greet": ("Obrigado pelo convite, {name}.", "É um prazer estar aqui, {name}."),
    "topic": ("Vamos falar sobre isto: {topic}.", "O próximo ponto: {topic}."),
    "ask": ("Você pode explicar?", "O que isso significa?"),
    "followup": ("Por que isso é importante?", "Pode contar mais?"),
    "reaction": ("Que interessante.", "Entendi."),
    "curious": ("E o que aconteceu depois?", "Continue, estou ouvindo."),
    "excited": ("Não acredito!", "Uau, sério?"),
    "funny": ("Espera, é sério?", "Isso é muito engraçado."),
    "tease": ("Ah, por favor, {name}, todo mundo sabe disso.", "Nossa, {name}, que descoberta."),
    "reflect": ("O que podemos aprender com isso?", "Tem uma lição de verdade aqui."),
    "headline": ("Nossa próxima notícia: {topic}.", "Vamos a outra notícia: {topic}."),
    "handoff": ("{name}, o que sabemos?", "{name}, com você."),
    "back": ("Devolvo a palavra para você, {name}.",),
    "story": ("Deixe-me contar uma história.", "É assim que a história continua."),
    "transition": ("Vamos em frente.", "Vamos mudar de assunto."),
    "lead_in": ("Boa pergunta.", "Claro."),
    "revisit": ("Vale a pena repetir:", "Em outras palavras,"),
    "recap": ("Resumindo,", "Em poucas palavras,"),
    "outro": ("Por hoje é só. Obrigado por ouvir!", "Obrigado pela companhia. Até a próxima!"),
    "farewell": ("Obrigado, {name}. Tchau, pessoal!", "Tchau!"),
    "summary": "Neste episódio:",
    "default_title": "o tema de hoje",
    "speaker": "Locutor",
}

_DE: dict[str, Any] = {
    "styles": (
        "Lernformat",
        "Interview",
        "Tiefenanalyse",
        "Erzählung",
        "Nachrichten",
        "Talkshow",
        "persönliche Entwicklung",
        "Comedy",
        "Roast",
    ),
    "welcome": (
        "Willkommen zu einer neuen Folge. Format: {style}. Ich bin {name}. Unser Thema: {title}.",
        "Hallo und willkommen. Format: {style}. Hier ist {name}, und heute geht es um {title}.",
    ),
    "introduce": ("Heute bei mir: {names}.", "Mit dabei sind heute: {names}."),
    "and": " und ",
    "greet": ("Danke für die Einladung, {name}.", "Schön, hier zu sein, {name}."),
    "topic": ("Sprechen wir darüber: {topic}.", "Der nächste Punkt: {topic}."),
    "ask": ("Kannst du das erklären?", "Was bedeutet das?"),
    "followup": ("Warum ist das wichtig?", "Kannst du mehr dazu sagen?"),
    "reaction": ("Interessant.", "Verstehe."),
    "curious": ("Und was passierte dann?", "Erzähl weiter, ich höre zu."),
    "excited": ("Das gibt's doch nicht!", "Wow, wirklich?"),
    "funny": ("Moment, im Ernst?", "Das ist ja urkomisch."),
    "tease": ("Ach komm, {name}, das weiß doch jeder.", "Wow, {name}, was für eine Entdeckung."),
    "reflect": ("Was können wir daraus lernen?", "Darin steckt eine echte Lektion."),
    "headline": ("Unsere nächste Meldung: {topic}.", "Zu einer weiteren Meldung: {topic}."),
    "handoff": ("{name}, was wissen wir?", "{name}, bitte."),
    "back": ("Damit zurück zu dir, {name}.",),
    "story": ("Lass mich eine Geschichte erzählen.", "So geht die Geschichte weiter."),
    "transition": ("Weiter geht's.", "Kommen wir zum nächsten Punkt."),
    "lead_in": ("Gute Frage.", "Klar."),
    "revisit": ("Das lohnt sich zu wiederholen:", "Anders gesagt,"),
    "recap": ("Zusammengefasst:", "Kurz gesagt:"),
    "outro": ("Das war's für heute. Danke fürs Zuhören!", "Danke, dass ihr dabei wart. Bis bald!"),
    "farewell": ("Danke, {name}. Tschüss zusammen!", "Tschüss!"),
    "summary": "In dieser Folge:",
    "default_title": "das heutige Thema",
    "speaker": "Sprecher",
}

_JA: dict[str, Any] = {
    "styles": (
        "まなび",
        "インタビュー",
        "ディープダイブ",
        "ものがたり",
        "ニュース",
        "トークショー",
        "じこせいちょう",
        "おもしろ",
        "ロースト",
    ),
    "welcome": (
        "{style} の ばんぐみへ ようこそ。{name} です。きょうの テーマは {title} です。",
        "みなさん こんにちは。{style} の じかんです。{name} です。きょうは {title} の はなしです。",
    ),
    "introduce": ("きょうの ゲストは {names} です。", "きょうは {names} と いっしょです。"),
    "and": " と ",
    "greet": ("よろしく おねがいします、{name} さん。", "おまねき ありがとう ございます。"),
    "topic": ("つぎの ポイントは これです。{topic}。", "これに ついて はなしましょう。{topic}。"),
    "ask": ("くわしく せつめい して もらえますか？", "それは どういう ことですか？"),
    "followup": ("なぜ それが だいじ なんですか？", "もう すこし おしえて ください。"),
    "reaction": ("なるほど。", "おもしろい ですね。"),
    "curious": ("それで、どう なったんですか？", "つづきを きかせて ください。"),
    "excited": ("ええっ、ほんとうに？", "すごい！"),
    "funny": ("ちょっと まって、まじで？", "それは わらえますね。"),
    "tease": (
        "{name} さん、それ みんな しってますよ。",
        "さすが {name} さん、だいはっけん ですね。",
    ),
    "reflect": ("ここから なにが まなべる でしょうか？", "これは いい きょうくん ですね。"),
    "headline": ("つぎの ニュースです。{topic}。", "つづいての ニュースです。{topic}。"),
    "handoff": ("{name} さん、おねがいします。", "{name} さん、どうぞ。"),
    "back": ("いじょうです。{name} さんに おかえし します。",),
    "story": ("ある ものがたりを おはなし しましょう。", "こうして はなしは すすみます。"),
    "transition": ("では、つぎに いきましょう。", "さて、はなしを すすめましょう。"),
    "lead_in": ("いい しつもん ですね。", "そうですね。"),
    "revisit": ("もう いちど いうと、", "べつの いいかたを すると、"),
    "recap": ("まとめると、", "ようするに、"),
    "outro": (
        "きょうは ここまでです。きいて くれて ありがとう ございました。",
        "また つぎの かいで おあいしましょう。",
    ),
    "farewell": ("ありがとう ございました、{name} さん。", "さようなら！"),
    "summary": "この かいでは：",
    "default_title": "きょうの テーマ",
    "speaker": "スピーカー",
}

_KO: dict[str, Any] = {
    "styles": (
        "교육",
        "인터뷰",
        "심층 분석",
        "이야기",
        "뉴스",
        "토크쇼",
        "자기 계발",
        "코미디",
        "디스",
    ),
    "welcome": (
        "{style} 에피소드에 오신 것을 환영합니다. 저는 {name}입니다. 오늘의 주제는 {title}입니다.",
        "안녕하세요, {style} 시간입니다. 저는 {name}입니다. 오늘 이야기할 주제: {title}.",
    ),
    "introduce": ("오늘 함께할 분은 {names}입니다.", "오늘의 게스트: {names}."),
    "and": ", ",
    "greet": ("초대해 주셔서 감사합니다, {name} 님.", "함께하게 되어 기쁩니다, {name} 님."),
    "topic": ("이 부분을 이야기해 봅시다. {topic}.", "다음 요점입니다. {topic}."),
    "ask": ("설명해 주시겠어요?", "그게 무슨 뜻인가요?"),
    "followup": ("그게 왜 중요한가요?", "조금 더 말씀해 주세요."),
    "reaction": ("흥미롭네요.", "그렇군요."),
    "curious": ("그래서 어떻게 됐나요?", "계속해 주세요, 듣고 있어요."),
    "excited": ("말도 안 돼요!", "와, 정말요?"),
    "funny": ("잠깐, 진심이에요?", "이거 정말 웃기네요."),
    "tease": ("에이, {name} 님, 그건 다 아는 얘기잖아요.", "와, {name} 님, 대단한 발견이네요."),
    "reflect": ("여기서 무엇을 배울 수 있을까요?", "좋은 교훈이 있네요."),
    "headline": ("다음 소식입니다. {topic}.", "이어서 다른 소식입니다. {topic}."),
    "handoff": ("{name} 님, 전해 주시죠.", "{name} 님, 부탁합니다."),
    "back": ("지금까지 전해 드렸습니다. {name} 님께 돌려드립니다.",),
    "story": ("이야기 하나 들려드릴게요.", "이야기는 이렇게 이어집니다."),
    "transition": ("다음으로 넘어가죠.", "이제 다른 이야기를 해 봅시다."),
    "lead_in": ("좋은 질문이에요.", "물론이죠."),
    "revisit": ("이 점은 다시 강조할 만합니다.", "다시 말하면,"),
    "recap": ("정리하자면,", "간단히 말해,"),
    "outro": (
        "오늘은 여기까지입니다. 들어 주셔서 감사합니다!",
        "함께해 주셔서 감사합니다. 다음에 만나요!",
    ),
    "farewell": ("감사합니다, {name} 님. 모두 안녕히 계세요!", "안녕히 계세요!"),
    "summary": "이번 에피소드에서는:",
    "default_title": "오늘의 주제",
    "speaker": "화자",
}

PHRASES: dict[str, dict[str, Any]] = {
    "zh": _ZH,
    "zh_yue": _YUE,
    "en": _EN,
    "ar": _AR,
    "ru": _RU,
    "es": _ES,
    "fr": _FR,
    "pt": _PT,
    "de": _DE,
    "ja": _JA,
    "ko": _KO,
}
"""Connective phrases for every API language; unknown languages fall back to English."""

# --------------------------------------------------------------------------------------------
# Length budget.

WORDS_PER_MINUTE = 150
CJK_CHARS_PER_MINUTE = 300
CJK_LANGUAGES = frozenset({"zh", "zh_yue", "ja"})


def units_per_minute(language: str) -> int:
    """Speech units per minute: characters for Chinese and Japanese, words otherwise."""
    return CJK_CHARS_PER_MINUTE if language in CJK_LANGUAGES else WORDS_PER_MINUTE


def target_units(level: DurationLevel, language: str) -> int:
    """The middle of the duration level's range, in speech units."""
    minutes = (level.min_minutes + level.max_minutes) / 2
    return max(1, round(minutes * units_per_minute(language)))


_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_CJK_OR_SPACE = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\s]+"
)
_WORD = re.compile(r"\w+")


def count_units(text: str, language: str) -> int:
    """Length of text as speech: CJK characters (in zh/zh_yue/ja) plus words."""
    if language in CJK_LANGUAGES:
        cjk = len(_CJK_CHAR.findall(text))
        rest = _CJK_OR_SPACE.sub(" ", text)
        return cjk + len(_WORD.findall(rest))
    return len(_WORD.findall(text))


# --------------------------------------------------------------------------------------------
# Reading the source.

_SENTENCE_BREAK = re.compile(r"(?<=[.!?…؟])[\"'”’)\]]*\s+|(?<=[。！？；])")
_CLAUSE_BREAK = re.compile(r"(?<=[,;:，；：、])\s*")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•·]|\d{1,3}[.)])\s+")
_HEADING_MARKS = re.compile(r"^\s*#{1,6}\s*|\s*#+\s*$")
_TERMINAL = re.compile(r"[.!?…。！？:;：；؟]$")
_LETTER = re.compile(r"[^\W\d_]")
_TRAILING_PUNCTUATION = re.compile(r"[\s,.;:!?…。，、；：！？\"'“”‘’()\[\]«»「」『』-]+$")
_STOPWORDS_TEXT = (
    "that this with from have were been they their there which would could should about "
    "into than then them these those what when where while your more most some such only "
    "also very just over after before because being does doing other each many much will "
    "shall"
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

_DANGLING_WORDS_TEXT = (
    "a an the of to and or but that so in on at by for with as is are was were be its "
    "their his her our your which who whose than from into"
)
_DANGLING_WORDS = frozenset(_DANGLING_WORDS_TEXT.split())
"""Words a shortened English phrase should not end on."""

_QUESTIONS = frozenset({"followup", "curious"})

_NOT_ALNUM = re.compile(r"[\W_]+")

MAX_SOURCE_CHARS = 1_000_000
"""Only this much of a source is read: far more than the longest episode can use."""
MIN_SENTENCE_UNITS = 3
MAX_SENTENCE_UNITS = 45
MAX_SEGMENTS = 12


@dataclass(frozen=True)
class Sentence:
    text: str
    position: int
    units: int
    score: float = 0.0


@dataclass(frozen=True)
class SourceDigest:
    heading: str | None
    sentences: tuple[Sentence, ...]


_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ud800-\udfff]"
)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text[:MAX_SOURCE_CHARS])
    return _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _join_lines(lines: list[str]) -> str:
    joined = ""
    for line in lines:
        if joined and not (_CJK_CHAR.match(line[:1]) and _CJK_CHAR.match(joined[-1:])):
            joined += " "
        joined += line
    return joined


def _max_units(language: str) -> int:
    return MAX_SENTENCE_UNITS * 2 if language in CJK_LANGUAGES else MAX_SENTENCE_UNITS


def _min_units(language: str) -> int:
    return MIN_SENTENCE_UNITS * 2 if language in CJK_LANGUAGES else MIN_SENTENCE_UNITS


def _is_heading(line: str, language: str) -> bool:
    units = count_units(line, language)
    limit = 24 if language in CJK_LANGUAGES else 12
    return 0 < units <= limit and not _TERMINAL.search(line) and bool(_LETTER.search(line))


def _split_long(text: str, language: str) -> list[str]:
    """Very long sentences are cut at clause breaks, then hard-wrapped."""
    limit = _max_units(language)
    if count_units(text, language) <= limit:
        return [text]
    glue = "" if _no_space(language) else " "
    pieces: list[str] = []
    current = ""
    for clause in _CLAUSE_BREAK.split(text):
        candidate = f"{current}{glue}{clause}" if current else clause
        if current and count_units(candidate, language) > limit:
            pieces.append(current)
            current = clause
        else:
            current = candidate
    if current:
        pieces.append(current)
    wrapped: list[str] = []
    for piece in pieces:
        if count_units(piece, language) <= limit * 1.5:
            wrapped.append(piece)
            continue
        words = piece.split()
        if len(words) > 1:
            wrapped.extend(
                " ".join(words[start : start + limit]) for start in range(0, len(words), limit)
            )
        else:
            wrapped.extend(piece[i : i + limit] for i in range(0, len(piece), limit))
    return wrapped


def _tokens(text: str, language: str) -> list[str]:
    tokens = [
        w.casefold()
        for w in re.findall(r"[^\W\d_]{4,}", text)
        if not _CJK_CHAR.match(w[0]) and w.casefold() not in _STOPWORDS
    ]
    for run in re.findall(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+", text):
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tokens


def digest_source(text: str, language: str) -> SourceDigest:
    """Split a source into its heading and unique, scored sentences (in source order)."""
    heading: str | None = None
    raw: list[str] = []
    for paragraph in re.split(r"\n\s*\n", _normalise(text)):
        lines = [ln.strip() for ln in paragraph.split("\n") if ln.strip()]
        body: list[str] = []
        for line in lines:
            bare = _LIST_MARKER.sub("", _HEADING_MARKS.sub("", line)).strip()
            if not bare:
                continue
            if _is_heading(bare, language) and (line.lstrip().startswith("#") or len(lines) == 1):
                if heading is None:
                    heading = bare
                continue
            if _LIST_MARKER.match(line) and body:
                raw.extend(_split_sentences(_join_lines(body)))
                body = []
            body.append(bare)
        if body:
            raw.extend(_split_sentences(_join_lines(body)))
    seen: set[str] = set()
    kept: list[str] = []
    for candidate in raw:
        for piece in _split_long(re.sub(r"\s+", " ", candidate).strip(), language):
            key = _NOT_ALNUM.sub("", piece.casefold())
            if not key or key in seen or count_units(piece, language) < _min_units(language):
                continue
            seen.add(key)
            kept.append(piece)
    if not kept and _LETTER.search(text):
        # Too short to hold a sentence: the whole source becomes the one thing to talk about.
        stop = "。" if _no_space(language) else "."
        kept = [shorten(_normalise(text), language, _max_units(language)) + stop]
    token_sets = [set(_tokens(sentence, language)) for sentence in kept]
    frequencies = Counter(t for tokens in token_sets for t in tokens)
    total = max(1, len(kept))
    sentences = []
    for position, (sentence, tokens) in enumerate(zip(kept, token_sets, strict=True)):
        weight = sum(math.log1p(frequencies[t] - 1) for t in tokens) / math.sqrt(1 + len(tokens))
        early = 1.0 + 0.6 * (1.0 - position / total)
        sentences.append(
            Sentence(sentence, position, count_units(sentence, language), (0.1 + weight) * early)
        )
    return SourceDigest(heading, tuple(sentences))


def _split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_BREAK.split(paragraph) if s and s.strip()]


def shorten(text: str, language: str, limit: int) -> str:
    """`text` cut to about `limit` units, at a clause break if it can; no end punctuation."""
    text = text.strip()
    if count_units(text, language) > limit:
        kept = ""
        for clause in _CLAUSE_BREAK.split(text):
            candidate = f"{kept}{clause}" if _no_space(language) else f"{kept} {clause}".strip()
            if count_units(candidate, language) > limit:
                break
            kept = candidate
        if count_units(kept, language) >= limit // 2:
            text = kept
        elif _no_space(language):
            text = _cut_cjk(text, limit, language)
        else:
            words = text.split()[:limit]
            while len(words) > 1 and words[-1].casefold().strip(",;:") in _DANGLING_WORDS:
                words.pop()
            text = " ".join(words)
    return _TRAILING_PUNCTUATION.sub("", text).strip()


def _cut_cjk(text: str, limit: int, language: str) -> str:
    end = 0
    while end < len(text) and count_units(text[: end + 1], language) <= limit:
        end += 1
    return text[:end]


def _no_space(language: str) -> bool:
    """Languages written without spaces between words or sentences."""
    return language in CJK_LANGUAGES


# --------------------------------------------------------------------------------------------
# Styles.


@dataclass(frozen=True)
class StyleShape:
    presenters: str
    """Who speaks the source's sentences: 'lead', 'others' or 'all' (taking turns)."""
    opener: str
    """Phrase key that opens each section: 'ask', 'topic', 'headline' or 'story'."""
    opener_by: str
    """'lead' or 'others' (the listener asks, e.g. the learner in an educational episode)."""
    sentences_per_turn: int
    reaction: str | None
    """Phrase key another speaker answers each content turn with (None: no reactions)."""
    reaction_adds_question: bool = False
    handback: bool = False
    """News: the correspondent hands back to the anchor at the end of each report."""


STYLE_SHAPES: dict[int, StyleShape] = {
    1: StyleShape("lead", "ask", "others", 2, "reaction", reaction_adds_question=True),
    2: StyleShape("others", "ask", "lead", 2, "reaction", reaction_adds_question=True),
    3: StyleShape("all", "topic", "lead", 2, "followup"),
    4: StyleShape("lead", "story", "lead", 3, "curious"),
    5: StyleShape("others", "headline", "lead", 2, None, handback=True),
    6: StyleShape("all", "topic", "lead", 1, "excited"),
    7: StyleShape("lead", "topic", "lead", 2, "reflect"),
    8: StyleShape("all", "topic", "lead", 1, "funny"),
    9: StyleShape("lead", "topic", "lead", 2, "tease"),
}


@dataclass(frozen=True)
class CastMember:
    role: str
    name: str
    voice_id: str


def _cast(speakers: Sequence[Voice | None], phrases: dict[str, Any]) -> list[CastMember]:
    if not speakers:
        speakers = [None, None]
    cast = []
    for index, voice in enumerate(speakers):
        role = _role(index)
        name = (voice.display_name or voice.name) if voice is not None else ""
        cast.append(
            CastMember(
                role=role,
                name=name or f"{phrases['speaker']} {role}",
                voice_id=voice.step2_voice_id if voice is not None else "",
            )
        )
    return cast


def _role(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# --------------------------------------------------------------------------------------------
# Building the dialogue.


@dataclass
class _Section:
    highlight: str
    start: int
    end: int


@dataclass
class _Draft:
    turns: list[tuple[int, str]] = field(default_factory=list)
    sections: list[_Section] = field(default_factory=list)


class _Writer:
    """Builds one draft; phrase choice rotates deterministically from a seed."""

    def __init__(
        self,
        *,
        shape: StyleShape,
        style: int,
        language: str,
        phrases: dict[str, Any],
        cast: list[CastMember],
        title: str,
        seed: int,
        brief: bool,
    ) -> None:
        self.shape = shape
        self.style = style
        self.language = language
        self.phrases = phrases
        self.cast = cast
        self.title = title
        self.seed = seed
        self.brief = brief
        self.uses: Counter[str] = Counter()
        self.rotation = 0

    def phrase(self, key: str, **values: str) -> str:
        options = self.phrases[key]
        if isinstance(options, str):
            options = (options,)
        choice = options[(self.seed + self.uses[key]) % len(options)]
        self.uses[key] += 1
        return choice.format(**values)

    def join(self, *parts: str) -> str:
        glue = "" if _no_space(self.language) else " "
        return glue.join(p for p in parts if p)

    @property
    def solo(self) -> bool:
        return len(self.cast) == 1

    def others(self) -> list[int]:
        return list(range(1, len(self.cast))) or [0]

    def name(self, index: int) -> str:
        return self.cast[index].name

    def write(self, sections: list[list[Sentence]], revisits: list[Sentence]) -> _Draft:
        draft = _Draft()
        self._intro(draft)
        for number, sentences in enumerate(sections):
            self._section(draft, number, sentences)
        if revisits:
            self._revisit(draft, revisits)
        self._outro(draft, sections)
        return draft

    def _say(
        self, draft: _Draft, speaker: int, text: str, *, merge_from: int | None = None
    ) -> None:
        """Add a turn; with `merge_from`, continue the speaker's own turn from that index on."""
        mergeable = merge_from is not None and len(draft.turns) > merge_from
        if mergeable and draft.turns[-1][0] == speaker:
            draft.turns[-1] = (speaker, self.join(draft.turns[-1][1], text))
        else:
            draft.turns.append((speaker, text))

    def _intro(self, draft: _Draft) -> None:
        style = self.phrases["styles"][self.style - 1]
        welcome = self.phrase("welcome", style=style, name=self.name(0), title=self.title)
        if not self.solo:
            names = self._names([self.name(i) for i in self.others()])
            welcome = self.join(welcome, self.phrase("introduce", names=names))
        self._say(draft, 0, welcome)
        for guest in self.others() if not self.solo else []:
            self._say(draft, guest, self.phrase("greet", name=self.name(0)))

    def _names(self, names: list[str]) -> str:
        if len(names) == 1:
            return names[0]
        separator = "、" if self.cjk else ", "
        return separator.join(names[:-1]) + self.phrases["and"] + names[-1]

    def _section(self, draft: _Draft, number: int, sentences: list[Sentence]) -> None:
        shape = self.shape
        topic = shorten(sentences[0].text, self.language, 20 if self.cjk else 12)
        others = self.others()
        guest = others[number % len(others)]
        start = len(draft.turns)

        presenter_for = self._presenters(guest)
        chunks = [
            sentences[i : i + shape.sentences_per_turn]
            for i in range(0, len(sentences), shape.sentences_per_turn)
        ]
        first_presenter = presenter_for(0)
        opener_speaker = 0 if shape.opener_by == "lead" or self.solo else guest
        if opener_speaker == first_presenter and shape.opener == "ask" and not self.solo:
            opener_speaker = next((i for i in others if i != first_presenter), 0)
        if opener_speaker == first_presenter:
            # Announcing the topic right before reading it out would only repeat it.
            if shape.opener == "story" and number == 0:
                opener = self.phrase("story")
            else:
                opener = self.phrase("transition") if number else ""
        else:
            opener = self._opener(number, topic, first_presenter)
            if number and opener_speaker == 0:
                opener = self.join(self.phrase("transition"), opener)
        if opener:
            # Continue the speaker's own intro turn rather than giving them two turns in a row.
            floor = draft.sections[-1].end + 1 if draft.sections else 0
            if draft.turns and draft.turns[-1][0] == opener_speaker and start - 1 >= floor:
                start -= 1
            self._say(draft, opener_speaker, opener, merge_from=floor)

        asked = False
        for index, chunk in enumerate(chunks):
            presenter = presenter_for(index)
            text = self.join(*(s.text for s in chunk))
            if asked:
                text = self.join(self.phrase("lead_in"), text)
            last = index == len(chunks) - 1
            if last and shape.handback and presenter != 0:
                text = self.join(text, self.phrase("back", name=self.name(0)))
            self._say(draft, presenter, text, merge_from=start)
            reaction = self._reaction(presenter, last)
            asked = reaction is not None and shape.reaction_adds_question
            if reaction is not None:
                self._say(draft, *reaction)
        draft.sections.append(_Section(topic, start, len(draft.turns) - 1))

    @property
    def cjk(self) -> bool:
        return self.language in CJK_LANGUAGES

    def _presenters(self, guest: int) -> Callable[[int], int]:
        presenters = self.shape.presenters
        if self.solo or presenters == "lead":
            return lambda index: 0
        if presenters == "others":
            return lambda index: guest
        start = self.rotation

        def rotating(index: int) -> int:
            self.rotation = start + index + 1
            return (start + index) % len(self.cast)

        return rotating

    def _opener(self, number: int, topic: str, presenter: int) -> str:
        """Another speaker introduces the section's topic and hands over to its presenter."""
        shape = self.shape
        if shape.opener == "headline":
            headline = self.phrase("headline", topic=topic)
            return self.join(headline, self.phrase("handoff", name=self.name(presenter)))
        text = self.phrase("topic", topic=topic)
        if shape.opener == "story" and number == 0:
            text = self.join(self.phrase("story"), text)
        if shape.opener == "ask" and not self.solo:
            text = self.join(text, self.phrase("ask"))
        return text

    def _reaction(self, presenter: int, last: bool) -> tuple[int, str] | None:
        """Another speaker's answer to a content turn, if the style has one here."""
        shape = self.shape
        if self.solo or shape.reaction is None:
            return None
        if shape.presenters == "all":
            reactor = (presenter + 1) % len(self.cast)
        elif presenter == 0:
            reactor = self.others()[self.uses[shape.reaction] % len(self.others())]
        else:
            reactor = 0
        key = shape.reaction
        # A section ends without a question nobody answers and without the lead speaking twice.
        if last and (shape.reaction_adds_question or key in _QUESTIONS or reactor == 0):
            return None
        if key == "tease":
            return reactor, self.phrase("tease", name=self.name(presenter))
        text = self.phrase(key)
        if shape.reaction_adds_question:
            text = self.join(text, self.phrase("followup"))
        return reactor, text

    def _revisit(self, draft: _Draft, revisits: list[Sentence]) -> None:
        start = len(draft.turns)
        for number, sentence in enumerate(revisits):
            presenter = self._presenters(self.others()[number % len(self.others())])(0)
            if not self.solo:
                asker = 0 if presenter != 0 else self.others()[number % len(self.others())]
                self._say(draft, asker, self.phrase("followup"))
            self._say(draft, presenter, self.join(self.phrase("revisit"), sentence.text))
        topic = shorten(revisits[0].text, self.language, 20 if self.cjk else 12)
        draft.sections.append(_Section(topic, start, len(draft.turns) - 1))

    def _outro(self, draft: _Draft, sections: list[list[Sentence]]) -> None:
        closing = self.phrase("outro")
        if sections and not self.brief:
            best = max((s for section in sections for s in section), key=_rank_key)
            recap = self.join(
                self.phrase("recap"),
                shorten(best.text, self.language, 24 if self.cjk else 16) + self._stop(),
            )
            closing = self.join(recap, closing)
        self._say(draft, 0, closing)
        for guest in self.others() if not self.solo else []:
            self._say(draft, guest, self.phrase("farewell", name=self.name(0)))

    def _stop(self) -> str:
        return "。" if self.cjk else "."


def _rank_key(sentence: Sentence) -> tuple[float, int]:
    return (sentence.score, -sentence.position)


def _sections(sentences: list[Sentence], shape: StyleShape) -> list[list[Sentence]]:
    per_section = max(4, shape.sentences_per_turn * 2)
    count = math.ceil(len(sentences) / per_section)
    if count > MAX_SEGMENTS:
        per_section = math.ceil(len(sentences) / MAX_SEGMENTS)
    return [sentences[i : i + per_section] for i in range(0, len(sentences), per_section)]


def _draft_units(draft: _Draft, language: str) -> int:
    return sum(count_units(text, language) for _, text in draft.turns)


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return int(digest[:8], 16)


def _plan(
    digest: SourceDigest, target: int, build: Any, language: str
) -> tuple[_Draft, list[Sentence]]:
    """Pick how many top-ranked sentences (and how many repeats) fill the length budget."""
    ranked = sorted(digest.sentences, key=_rank_key, reverse=True)

    def draft_with(count: int, revisits: int = 0) -> _Draft:
        chosen = sorted(ranked[:count], key=lambda s: s.position)
        repeat = [ranked[i % max(1, count)] for i in range(revisits)] if count else []
        return build(chosen, repeat)

    low, high = 0, len(ranked)
    # The largest sentence count whose script stays within the budget (drafts grow with count).
    while low < high:
        middle = (low + high + 1) // 2
        if _draft_units(draft_with(middle), language) <= target * 1.05:
            low = middle
        else:
            high = middle - 1
    count = max(low, min(1, len(ranked)))
    draft = draft_with(count)
    revisits = 0
    # A short source is revisited (each sentence at most twice more) to approach the budget.
    while count and revisits < 2 * count and _draft_units(draft, language) < target * 0.9:
        longer = draft_with(count, revisits + 1)
        if _draft_units(longer, language) > target * 1.05:
            break
        revisits += 1
        draft = longer
    return draft, sorted(ranked[:count], key=lambda s: s.position)


def _title(digest: SourceDigest, language: str, phrases: dict[str, Any]) -> str:
    limit = 24 if language in CJK_LANGUAGES else 10
    if digest.heading:
        return shorten(digest.heading, language, limit)
    if digest.sentences:
        best = max(digest.sentences, key=_rank_key)
        return shorten(best.text, language, limit)
    return str(phrases["default_title"])


def _summary(chosen: list[Sentence], language: str, phrases: dict[str, Any], title: str) -> str:
    limit = 120 if language in CJK_LANGUAGES else 60
    picked: list[Sentence] = []
    used = 0
    for sentence in sorted(chosen, key=_rank_key, reverse=True):
        if picked and used + sentence.units > limit:
            break
        picked.append(sentence)
        used += sentence.units
    glue = "" if _no_space(language) else " "
    body = glue.join(s.text for s in sorted(picked, key=lambda s: s.position))
    return glue.join((str(phrases["summary"]), body or title))


def write_script(
    source_text: str,
    *,
    style: int,
    duration: int,
    language: str,
    speakers: Sequence[Voice | None],
    source_data: str,
) -> dict[str, Any]:
    """The step-1 result fields for a source, as the API returns them (deterministic).

    Raises ValueError for an unknown style code or duration level; unknown languages get
    English phrases.
    """
    if style not in STYLE_SHAPES:
        raise ValueError(f"unknown style code {style!r}")
    if duration not in DURATION_BY_LEVEL:
        raise ValueError(f"unknown duration level {duration!r}")
    level = DURATION_BY_LEVEL[duration]
    phrases = PHRASES.get(language, _EN)
    shape = STYLE_SHAPES[style]
    cast = _cast(speakers, phrases)
    digest = digest_source(source_text, language)
    title = _title(digest, language, phrases)
    target = target_units(level, language)
    seed = _seed(source_text, style, duration, language, len(cast))

    def build(chosen: list[Sentence], revisits: list[Sentence]) -> _Draft:
        writer = _Writer(
            shape=shape,
            style=style,
            language=language,
            phrases=phrases,
            cast=cast,
            title=title,
            seed=seed,
            brief=level.level == 1,
        )
        return writer.write(_sections(chosen, shape), revisits)

    draft, chosen = _plan(digest, target, build, language)
    script = [
        {
            "role": cast[speaker].role,
            "name": cast[speaker].name,
            "avatar": "",
            "text": text,
            "voice_id": cast[speaker].voice_id,
        }
        for speaker, text in draft.turns
    ]
    highlights = [
        {
            "highlight": section.highlight,
            "index": number,
            "script_start_index": section.start,
            "script_end_index": section.end,
        }
        for number, section in enumerate(draft.sections)
    ]
    if not highlights:
        highlights = [
            {
                "highlight": title,
                "index": 0,
                "script_start_index": 0,
                "script_end_index": len(script) - 1,
            }
        ]
    return {
        "title": title,
        "processed_content": _summary(chosen, language, phrases, title),
        "train_data": _outline(title, style, level, language, cast, draft, shape),
        "podcast_script": script,
        "hightlights": highlights,
        "podcast_script_txt": "\n".join(f"{t['name']}: {t['text']}" for t in script),
        "source_data": source_data,
        "avatar": None,
    }


_ROLE_NAMES: dict[int, tuple[str, str]] = {
    1: ("teacher", "learner"),
    2: ("host", "guest"),
    3: ("host", "co-host"),
    4: ("narrator", "listener"),
    5: ("anchor", "correspondent"),
    6: ("host", "co-host"),
    7: ("coach", "companion"),
    8: ("host", "co-host"),
    9: ("roastee", "roaster"),
}


def _outline(
    title: str,
    style: int,
    level: DurationLevel,
    language: str,
    cast: list[CastMember],
    draft: _Draft,
    shape: StyleShape,
) -> str:
    lead, other = _ROLE_NAMES[style]
    speakers = ", ".join(
        f"{member.role} = {member.name} ({lead if i == 0 else other})"
        for i, member in enumerate(cast)
    )
    lines = [
        f"Title: {title}",
        f"Style: {STYLE_NAMES[style]} | Duration: {level.label} | Language: {language}",
        f"Speakers: {speakers}",
        f"Turns: {len(draft.turns)}",
        "Outline:",
    ]
    for number, section in enumerate(draft.sections, start=1):
        lines.append(f"{number}. {section.highlight} (turns {section.start}-{section.end})")
    return "\n".join(lines)
