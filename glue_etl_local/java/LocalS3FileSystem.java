package glueetl;

import java.io.IOException;
import org.apache.hadoop.fs.viewfs.ViewFileSystem;

/**
 * s3://BUCKET/KEY served from a local folder: a viewfs mount table named after each bucket, whose
 * linkFallback is the folder. Only the scheme differs from ViewFileSystem, so paths, listings and
 * input_file_name() keep their s3:// form while Spark reads and writes plain local files.
 */
public class LocalS3FileSystem extends ViewFileSystem {
    public LocalS3FileSystem() throws IOException {
        super();
    }

    @Override
    public String getScheme() {
        return "s3";
    }
}
