#!/bin/bash
after=''
for arg; do
  case $arg in --after-cursor=*) after=${arg#--after-cursor=} ;; esac
done
printf '%s\0' "$@" >"$FAKE_DIR/journalctl.args"
found=''
[[ -z $after ]] && found=1
while IFS= read -r entry; do
  [[ -n $found ]] && printf '%s\n' "$entry"
  [[ $(jq -r .__CURSOR <<<"$entry") == "$after" ]] && found=1
done <"$FAKE_DIR/journal.json"
exec sleep 600
