// Apache Avro Java (Debian's libavro-java) as a test oracle for logstream's
// fingerprints and single-object records; oracle_java_test.go compiles and
// runs it. Output is UTF-8, one line per input.
//
//   fingerprints SCHEMA...
//       For each schema file: its SchemaNormalization.parsingFingerprint64
//       as 16 hex digits, a tab, its toParsingForm, a tab, the file name.
//
//   decode OUT READER WRITERS DATA...
//       Decodes each DATA file (one single-object record: C3 01, the
//       fingerprint, the body) with a BinaryMessageDecoder<GenericRecord>
//       reading READER and knowing every schema in WRITERS (a comma-separated
//       list of files; READER is known too). Writes to OUT one JSON object a
//       line, {"file", "ok", "error", "record"}, "record" being
//       GenericData's JSON of the decoded record; and re-encodes each record
//       with BinaryMessageEncoder (READER's fingerprint) to DATA + ".java".

import java.io.File;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;

public class AvroJavaOracle {
  public static void main(String[] args) throws Exception {
    if (args.length >= 1 && args[0].equals("fingerprints")) {
      fingerprints(Arrays.copyOfRange(args, 1, args.length));
    } else if (args.length >= 4 && args[0].equals("decode")) {
      decode(args[1], args[2], args[3].split(","), Arrays.copyOfRange(args, 4, args.length));
    } else {
      System.err.println("usage: fingerprints SCHEMA... | decode OUT READER WRITERS DATA...");
      System.exit(2);
    }
  }

  static Schema parse(String file) throws Exception {
    // A fresh parser per file: the files reuse the same names.
    return new Schema.Parser().parse(new File(file));
  }

  static void fingerprints(String[] files) throws Exception {
    PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
    for (String f : files) {
      Schema s = parse(f);
      out.printf("%016x\t%s\t%s%n", SchemaNormalization.parsingFingerprint64(s), SchemaNormalization.toParsingForm(s), f);
    }
    out.flush();
  }

  static void decode(String outFile, String readerFile, String[] writerFiles, String[] dataFiles) throws Exception {
    Schema reader = parse(readerFile);
    BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<GenericRecord>(GenericData.get(), reader);
    for (String w : writerFiles) {
      decoder.addSchema(parse(w));
    }
    BinaryMessageEncoder<GenericRecord> encoder = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), reader);
    StringBuilder out = new StringBuilder();
    for (String f : dataFiles) {
      out.append("{\"file\":").append(quote(f));
      try {
        GenericRecord rec = decoder.decode(Files.readAllBytes(Paths.get(f)));
        ByteBuffer again = encoder.encode(rec);
        byte[] b = new byte[again.remaining()];
        again.get(b);
        Files.write(Paths.get(f + ".java"), b);
        out.append(",\"ok\":true,\"record\":").append(GenericData.get().toString(rec));
      } catch (Exception e) {
        out.append(",\"ok\":false,\"error\":").append(quote(e.toString()));
      }
      out.append("}\n");
    }
    Files.write(Paths.get(outFile), out.toString().getBytes(StandardCharsets.UTF_8));
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
