#!/bin/sh
# The SSH setup smlaunch needs in a training image (run once, as root, at
# image build time; both Dockerfiles call it).
#
# Every container of a job comes from the same image, so one key pair baked
# into the image lets every host log in to every other: mpirun's ssh, and
# smlaunch's own libssh sessions (the leader tells the workers the outcome).
# Host keys are made now too, so a container does not spend seconds in
# ssh-keygen at start, and host keys are not checked (the job's network is
# private to the job; each container would present the same key anyway).
#
# Anyone holding the image holds the key: keep such images in a private
# registry, and do not expose port 22 outside the job's network.
set -eu

ssh_dir=/root/.ssh
mkdir -p /run/sshd "$ssh_dir"
chmod 700 /root "$ssh_dir"

if [ ! -f "$ssh_dir/id_ed25519" ]; then
  ssh-keygen -q -t ed25519 -N '' -C smlaunch-image -f "$ssh_dir/id_ed25519"
fi
touch "$ssh_dir/authorized_keys"
if ! grep -qF "$(cut -d' ' -f2 "$ssh_dir/id_ed25519.pub")" "$ssh_dir/authorized_keys"; then
  cat "$ssh_dir/id_ed25519.pub" >>"$ssh_dir/authorized_keys"
fi

# mpirun starts its daemons with the OpenSSH client: it must not stop at an
# unknown host key.
cat >"$ssh_dir/config" <<'CONFIG'
Host *
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
CONFIG
chmod 600 "$ssh_dir/id_ed25519" "$ssh_dir/authorized_keys" "$ssh_dir/config"
chmod 644 "$ssh_dir/id_ed25519.pub"

# sshd's own host keys (rsa, ecdsa, ed25519) in /etc/ssh.
ssh-keygen -A

# pam_loginuid writes /proc/self/loginuid, which fails in most containers
# (no CAP_AUDIT_CONTROL): "required" would then refuse every login. smlaunch
# starts sshd with UsePAM as configured; make the module optional.
if [ -f /etc/pam.d/sshd ]; then
  sed -i 's/^\(session[[:space:]]\+\)required\([[:space:]]\+pam_loginuid\.so\)/\1optional\2/' /etc/pam.d/sshd
fi
