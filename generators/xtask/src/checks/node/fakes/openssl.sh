#!/bin/bash
printf '%s\0' "$@" >"$FAKE_DIR/openssl.args"
echo "CONNECTION ESTABLISHED" >&2
echo "Verification: OK" >&2
cat >>"$FAKE_DIR/received"
