# tests/bench/plot.gp - the chart of results.md (run.sh calls it).
#
#   gnuplot -e "ratio_file='...'; instr_file='...'; out_file='...png'; ncols=N; icols=M" plot.gp
#
# Top: wall time of each setup divided by the same workload without the shim
# (log scale: strace is tens of times slower, the shim within a few percent).
# Bottom: user-space instructions each setup adds per operation (callgrind).

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
	set terminal pngcairo size 1200,1000 font "DejaVu Sans,11" noenhanced
} else {
	set terminal png size 1200,1000 noenhanced
}
set output out_file
set datafile missing "nan"
set key autotitle columnheader
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside top center horizontal box maxcols 3
set logscale y
set format y "%g"
set xtics nomirror
set offsets 0, 0, graph 0.12, 0
set multiplot layout 2,1

# x of bar k (1-based) of row r in a clustered histogram of n columns, gap 1
barx(r, k, n) = r + (k - (n + 1) / 2.0) / (n + 1)

set title "faultline next to the alternatives, loopback: wall time relative to no shim (median of paired interleaved runs; lower is better)"
set ylabel "x no shim"
set yrange [0.5:*]
plot for [k=1:ncols] ratio_file using (column(k+1)):xtic(1) title columnheader(k+1), \
     for [k=1:ncols] ratio_file using (barx($0, k, ncols)):(column(k+1)):(sprintf("%.2f", column(k+1))) \
         with labels offset 0,0.7 font ",9" notitle, \
     1 with lines dt 2 lc rgb "black" notitle

set title "user-space instructions added per operation (callgrind; strace adds none in user space, its cost is in the kernel)"
set ylabel "extra instructions / op"
set yrange [0.3:*]
plot for [k=1:icols] instr_file using (column(k+1)):xtic(1) title columnheader(k+1), \
     for [k=1:icols] instr_file using (barx($0, k, icols)):(column(k+1)):(sprintf("%.0f", column(k+1))) \
         with labels offset 0,0.7 font ",9" notitle

unset multiplot
