#!/bin/sh
# shellcheck disable=SC2154 # udhcpc passes the lease as ip, mask, interface, router
case "$1" in
bound|renew)
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; done
    ;;
esac
exit 0
