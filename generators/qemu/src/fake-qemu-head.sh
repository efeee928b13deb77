#!/bin/sh
# A fake qemu-system-x86_64 (see ephemeros-qemu's fake.rs).
here=$(dirname "$0")
echo "$*" >>"$here/args"
accel=tcg
console=
stdio=
for arg in "$@"; do
  case $arg in *accel=kvm*) accel=kvm ;; esac
  case $arg in
    file,id=*path=*) console=${arg##*path=} ;;
    stdio,*logfile=*) console=${arg##*logfile=}; stdio=1 ;;
    mon:stdio) stdio=1 ;;
  esac
done
say() {
  if [ -n "$console" ]; then printf '%s\n' "$1" >>"$console"; fi
  if [ -n "$stdio" ]; then printf '%s\n' "$1"; fi
}
behave() {
  case $1 in
    console) say "BdsDxe: fake firmware on $accel"; exec sleep 60 ;;
    poweroff) say "BdsDxe: fake firmware on $accel"; exit 0 ;;
    quit) say "BdsDxe: fake firmware on $accel"; say "QEMU: Terminated"; exit 0 ;;
    giveup) say "ephemeros: giving up: could not download the kernel (fake)"; exit 0 ;;
    internal-error)
      echo "KVM internal error. Suberror: 1" >&2
      echo "extra data[0]: 0x0000000000000001" >&2
      echo "RAX=0000000000000000 RBX=0000000000000000" >&2
      exec sleep 60 ;;
    abort)
      echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2
      echo "qemu-system-x86_64: kvm.c:3183: kvm_buf_set_msrs: Assertion failed." >&2
      exit 134 ;;
    silent) exec sleep 60 ;;
  esac
}
