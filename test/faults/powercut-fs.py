#!/usr/bin/env python3
"""
powercut-fs: a FUSE filesystem for power-cut tests (test/faults/powercut.test.ts).

    python3 powercut-fs.py BACKING MOUNTPOINT [--expire SECONDS]

Files under MOUNTPOINT are files under BACKING, with one difference: what a program writes stays in this
process's memory (the page cache) until the program calls fsync or fdatasync on that file (or, with
--expire, until it has been dirty that long: Linux writes dirty pages back after vm.dirty_expire_centisecs,
30 s by default). `kill -9` of this process is the power cut: whatever was written and not yet synced is
gone, and BACKING holds what a disk would hold. Mount it again on the same BACKING to power back on.

What it models and what it does not:
- Data is cached per file, as an OS does: syncing one file writes back that file only.
- Metadata (create, unlink, rename, mkdir, truncate of the backing file's size on sync) reaches BACKING at
  once, as if every directory change were journaled before the call returned. A program that forgot to
  fsync a directory is not caught; a program that deletes what a lost write still needed is.
- A power cut loses every unsynced write whole. Torn sectors and writes reordered within a synced file are
  not modeled.
Locks are left to the kernel (FUSE's local POSIX locks), which is what SQLite on one machine needs.
"""
import errno
import os
import sys
import threading
import time

try:
    from fusepy import FUSE, FuseOSError, Operations  # Debian's python3-fusepy
except ImportError:
    from fuse import FUSE, FuseOSError, Operations  # fusepy from PyPI


class Cached:
    """a file's content as the program sees it, and the range not yet written back"""

    __slots__ = ('data', 'lo', 'hi', 'since', 'synced_len')

    def __init__(self, data):
        self.data = bytearray(data)
        self.synced_len = len(data)
        self.lo = None  # dirty range [lo, hi); None when clean
        self.hi = 0
        self.since = 0.0

    def dirty(self, lo, hi):
        if self.lo is None:
            self.lo, self.hi, self.since = lo, hi, time.monotonic()
        else:
            self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)


class PowerCutFS(Operations):
    def __init__(self, backing, expire):
        self.root = os.path.realpath(backing)
        self.expire = expire
        self.files = {}  # path -> Cached, for every file opened since mount
        self.mu = threading.Lock()
        self.fh = 0
        self.synced_bytes = 0
        if expire is not None:
            threading.Thread(target=self.flusher, daemon=True).start()

    def real(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def cached(self, path):
        f = self.files.get(path)
        if f is None:
            with open(self.real(path), 'rb') as r:
                f = self.files[path] = Cached(r.read())
        return f

    def write_back(self, path, f):
        """the disk gets this file's cached content (called with the lock held)"""
        if f.lo is None and f.synced_len == len(f.data):
            return
        fd = os.open(self.real(path), os.O_WRONLY)
        try:
            if f.lo is not None:
                lo, hi = f.lo, min(f.hi, len(f.data))
                if hi > lo:
                    os.pwrite(fd, bytes(f.data[lo:hi]), lo)
                    self.synced_bytes += hi - lo
            if f.synced_len != len(f.data):
                os.ftruncate(fd, len(f.data))
        finally:
            os.close(fd)
        f.lo, f.hi, f.synced_len = None, 0, len(f.data)

    def flusher(self):
        # the OS flusher's period (Linux: vm.dirty_writeback_centisecs): part of the model, not a test's wait
        while True:
            time.sleep(0.25)
            with self.mu:
                now = time.monotonic()
                for path, f in list(self.files.items()):
                    if f.lo is not None and now - f.since >= self.expire:
                        self.write_back(path, f)

    def init(self, path):
        print('mounted', flush=True)

    # ---- metadata: straight to the backing folder ----

    def getattr(self, path, fh=None):
        with self.mu:
            st = os.lstat(self.real(path))
            attrs = {k: getattr(st, k) for k in (
                'st_mode', 'st_nlink', 'st_uid', 'st_gid', 'st_size', 'st_atime', 'st_mtime', 'st_ctime')}
            f = self.files.get(path)
            if f is not None:
                attrs['st_size'] = len(f.data)
            return attrs

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self.real(path))

    def access(self, path, mode):
        if not os.access(self.real(path), mode):
            raise FuseOSError(errno.EACCES)

    def statfs(self, path):
        sv = os.statvfs(self.real(path))
        return {k: getattr(sv, k) for k in (
            'f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag',
            'f_frsize', 'f_namemax')}

    def mkdir(self, path, mode):
        os.mkdir(self.real(path), mode)

    def rmdir(self, path):
        os.rmdir(self.real(path))

    def chmod(self, path, mode):
        os.chmod(self.real(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self.real(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self.real(path), times)

    def unlink(self, path):
        with self.mu:
            os.unlink(self.real(path))
            self.files.pop(path, None)

    def rename(self, old, new):
        with self.mu:
            os.rename(self.real(old), self.real(new))
            f = self.files.pop(old, None)
            self.files.pop(new, None)
            if f is not None:
                self.files[new] = f

    # ---- data: cached until synced ----

    def create(self, path, mode, fi=None):
        with self.mu:
            os.close(os.open(self.real(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
            self.files[path] = Cached(b'')
            self.fh += 1
            return self.fh

    def open(self, path, flags):
        with self.mu:
            f = self.cached(path)
            if flags & os.O_TRUNC and len(f.data) > 0:
                del f.data[:]
                f.dirty(0, 0)
            self.fh += 1
            return self.fh

    def read(self, path, size, offset, fh):
        with self.mu:
            return bytes(self.cached(path).data[offset:offset + size])

    def write(self, path, data, offset, fh):
        with self.mu:
            f = self.cached(path)
            end = offset + len(data)
            if end > len(f.data):
                f.data.extend(b'\0' * (end - len(f.data)))
            f.data[offset:end] = data
            f.dirty(offset, end)
            return len(data)

    def truncate(self, path, length, fh=None):
        with self.mu:
            f = self.cached(path)
            if length < len(f.data):
                del f.data[length:]
            else:
                f.data.extend(b'\0' * (length - len(f.data)))
            f.dirty(min(length, f.synced_len), length)

    def fsync(self, path, datasync, fh):
        with self.mu:
            f = self.files.get(path)
            if f is not None:
                self.write_back(path, f)
        return 0

    def fsyncdir(self, path, datasync, fh):
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return 0


def main():
    args = sys.argv[1:]
    expire = None
    if '--expire' in args:
        i = args.index('--expire')
        expire = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    backing, mountpoint = args
    fs = PowerCutFS(backing, expire)
    FUSE(fs, mountpoint, foreground=True, nothreads=True, default_permissions=True)


if __name__ == '__main__':
    main()
