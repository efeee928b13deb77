# shellcheck shell=sh
# Flatcar puts /opt/bin on every login shell's PATH.
case ":$PATH:" in
  *:/opt/bin:*) ;;
  *) PATH=/opt/bin:$PATH ;;
esac
