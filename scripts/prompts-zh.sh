#!/bin/sh
# Generates the shipped Mandarin prompts (config/prompts/zh/) with espeak-ng's
# `cmn` voice, converted with sox to what the engine plays: 8 kHz, mono,
# 16-bit PCM WAV (G.711-encoded at load without resampling). Reproducible:
# the same espeak-ng and sox versions give the same bytes (the versions used
# are written to config/prompts/zh/VERSIONS).
#
#   apt-get install -y espeak-ng sox
#   scripts/prompts-zh.sh            # writes config/prompts/zh/
#
# The scripts are the regulations' (shared/REGULATIONS.md): the opening
# 「您好！请问有什么可以帮到您？」, the silent-line script, 「很抱歉让您久等了」,
# 「谢谢您的电话，再见！」; the queue announcements are built at run time from
# the words in announce/ (「您前面还有」「三」「位」, 「预计等待」「两」「分钟」,
# 「一零零一」「号客服为您服务」).
set -eu
cd "$(dirname "$0")/.."
out=config/prompts/zh
mkdir -p "$out/announce"
command -v espeak-ng >/dev/null || { echo "espeak-ng is not installed (apt-get install -y espeak-ng)" >&2; exit 1; }
command -v sox >/dev/null || { echo "sox is not installed (apt-get install -y sox)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say FILE TEXT: a whole sentence, 150 ms of silence kept around it
say() {
    espeak-ng -v cmn -s 175 -w "$tmp/raw.wav" "$2"
    sox -D "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1" \
        silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse pad 0.15 0.15 norm -3
}

# word FILE TEXT: a word to be joined to others, no silence around it
word() {
    espeak-ng -v cmn -s 185 -w "$tmp/raw.wav" "$2"
    sox -D "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1" \
        silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse pad 0 0.04 norm -3
}

# greetings: the fixed opening, and one per period of the day
say "$out/greeting.wav" "您好！请问有什么可以帮到您？"
say "$out/greeting_morning.wav" "早上好！欢迎致电客服热线。您好！请问有什么可以帮到您？"
say "$out/greeting_afternoon.wav" "下午好！欢迎致电客服热线。您好！请问有什么可以帮到您？"
say "$out/greeting_evening.wav" "晚上好！欢迎致电客服热线。您好！请问有什么可以帮到您？"
say "$out/closed.wav" "您好，现在是非工作时间，请在工作时间内再来电。谢谢您的电话，再见！"
say "$out/voicemail.wav" "您好，坐席暂时无法接听。请在提示音后留下您的姓名、电话和问题，我们将在二十四小时内回复您。"
say "$out/callback_offer.wav" "如需我们给您回电，请按一。挂机后您的排队位置将为您保留。"
say "$out/callback_confirm.wav" "好的，我们会尽快给您回电。谢谢您的电话，再见！"
say "$out/silent_line.wav" "对不起，我听不到你的声音，你换一部电话再打过来，好吗？我现在挂机了。"
say "$out/blacklisted.wav" "对不起，您的来电无法接通，再见。"
say "$out/hold_resume.wav" "很抱歉让您久等了。"
say "$out/closing.wav" "谢谢您的电话，再见！"
say "$out/announce/still_waiting.wav" "所有坐席都在忙，请您耐心等待，我们将尽快为您服务。"

# the words announcements are built from
word "$out/announce/ahead.wav" "您前面还有"
word "$out/announce/people.wav" "位"
word "$out/announce/next.wav" "您是下一位，请稍候"
word "$out/announce/expected_wait.wav" "预计等待"
word "$out/announce/minutes.wav" "分钟"
word "$out/announce/less_than.wav" "预计等待不到一分钟"
word "$out/announce/agent_number.wav" "号客服为您服务"
for pair in ling:零 yi:一 er:二 liang:两 san:三 si:四 wu:五 liu:六 qi:七 ba:八 jiu:九 shi:十 bai:百 qian:千 wan:万; do
    word "$out/announce/${pair%%:*}.wav" "${pair#*:}"
done

{
    espeak-ng --version
    sox --version
} > "$out/VERSIONS"
echo "wrote $(ls "$out"/*.wav "$out"/announce/*.wav | wc -l) prompts to $out"
