# Shared helpers for the bench/ scripts, sourced after they cd to the
# repository's root.

# median: the median of the numbers on stdin, one a line (the mean of the
# middle two for an even count); fails on no input, so a METRIC line is never
# printed with an empty value.
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) exit 1; print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
