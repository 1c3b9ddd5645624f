package glueetl;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsAction;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's local file system, setting and reading permissions through java.nio rather than a
 * process. Without Hadoop's native library (pyspark ships none) every file and folder Spark writes
 * locally forks `chmod` from the JVM, and every file listed with its permissions (Spark's file
 * index lists that way) forks `ls -ld`: about 3 ms each, one at a time, seconds for a run over a
 * thousand files. The permissions are the same (the sticky bit aside, which Spark never sets).
 */
public class LocalFileSystemWithoutShell extends LocalFileSystem {
    public LocalFileSystemWithoutShell() {
        super(new RawLocalFileSystemWithoutShell());
    }

    static final class RawLocalFileSystemWithoutShell extends RawLocalFileSystem {
        @Override
        public void setPermission(Path path, FsPermission permission) throws IOException {
            Files.setPosixFilePermissions(pathToFile(path).toPath(), posixPermissions(permission));
        }

        @Override
        public FileStatus getFileStatus(Path path) throws IOException {
            return withPermissions(super.getFileStatus(path));
        }

        @Override
        public FileStatus[] listStatus(Path path) throws IOException {
            FileStatus[] listed = super.listStatus(path);
            FileStatus[] complete = new FileStatus[listed.length];
            for (int i = 0; i < listed.length; i++) {
                complete[i] = withPermissions(listed[i]);
            }
            return complete;
        }

        /** The status with owner, group and permission read now (Hadoop's would run `ls -ld` when asked). */
        private FileStatus withPermissions(FileStatus status) throws IOException {
            PosixFileAttributes attributes =
                    Files.readAttributes(pathToFile(status.getPath()).toPath(), PosixFileAttributes.class);
            return new FileStatus(status.getLen(), status.isDirectory(), status.getReplication(),
                    status.getBlockSize(), status.getModificationTime(), status.getAccessTime(),
                    FsPermission.valueOf("-" + PosixFilePermissions.toString(attributes.permissions())),
                    attributes.owner().getName(), attributes.group().getName(), status.getPath());
        }
    }

    static Set<PosixFilePermission> posixPermissions(FsPermission permission) {
        Set<PosixFilePermission> granted = EnumSet.noneOf(PosixFilePermission.class);
        grant(granted, permission.getUserAction(),
                PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE);
        grant(granted, permission.getGroupAction(),
                PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE);
        grant(granted, permission.getOtherAction(),
                PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);
        return granted;
    }

    private static void grant(Set<PosixFilePermission> granted, FsAction action,
            PosixFilePermission read, PosixFilePermission write, PosixFilePermission execute) {
        if (action.implies(FsAction.READ)) {
            granted.add(read);
        }
        if (action.implies(FsAction.WRITE)) {
            granted.add(write);
        }
        if (action.implies(FsAction.EXECUTE)) {
            granted.add(execute);
        }
    }
}
