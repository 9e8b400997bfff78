#!/bin/sh
# A tiny service: prints a line every second, a warning every fifth, and crashes
# after a minute so that the restart policy can be seen at work.
n=0
while [ "$n" -lt 60 ]; do
    n=$((n + 1))
    if [ $((n % 5)) -eq 0 ]; then
        echo "<4>tick $n: five more seconds gone" >&2
    else
        echo "tick $n from pid $$"
    fi
    sleep 1
done
echo "<3>giving up after $n ticks" >&2
exit 1
