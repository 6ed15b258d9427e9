# Guest script of the vm test (run by vmstream-guest in the guest, /bin/sh):
# the first pipeline is killed with SIGKILL after 8 s, mid-stream, as a
# crashing capture would be. Over virtio-serial the host sees no disconnect:
# the next vsocksink must get through with a new HELLO on the same host
# connection. Later runs (vmstream-guest restarts this script) stream on.
set -f
line=$(cat /run/vmstream/guest.txt)
if [ ! -e /run/vmstream-test-killed ]; then
  : >/run/vmstream-test-killed
  timeout -s KILL 8 gst-launch-1.0 $line
  echo "vmstream-test: guest pipeline killed (exit $?), starting a new one"
fi
gst-launch-1.0 $line
