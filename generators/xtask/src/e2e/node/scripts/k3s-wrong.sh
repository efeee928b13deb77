#!/bin/bash
# Not the pinned k3s: proof that it ran if it ever does.
touch /run/k3s-standin-wrong-binary-ran
exec sleep infinity
