#!/usr/bin/env bash
# Draws a load run's time series (benches/load.rs writes it as CSV) into a
# PNG: calls up, engine CPU, resident memory, file descriptors and threads
# over time. Usage: scripts/soak-plot.sh target/load/run-<epoch>.csv out.png
set -euo pipefail
csv=${1:?usage: soak-plot.sh RUN.csv OUT.png}
png=${2:?usage: soak-plot.sh RUN.csv OUT.png}
if ! command -v gnuplot >/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq gnuplot-nox >/dev/null
fi
gnuplot <<GP
set terminal pngcairo size 1200,900 font "DejaVu Sans,10"
set output "$png"
set datafile separator ","
set key autotitle columnhead
set multiplot layout 4,1 title "hotline soak: $(basename "$csv")"
set xlabel "seconds"
set grid
set ylabel "calls up"
plot "$csv" using 1:2 with lines lw 2 title "calls bridged and recorded"
set ylabel "CPU % of a core"
plot "$csv" using 1:3 with lines title "engine CPU"
set ylabel "MiB"
plot "$csv" using 1:4 with lines lw 2 title "engine resident memory"
set ylabel "count"
plot "$csv" using 1:5 with lines lw 2 title "file descriptors", "$csv" using 1:6 with lines lw 2 title "threads"
unset multiplot
GP
echo "wrote $png"
