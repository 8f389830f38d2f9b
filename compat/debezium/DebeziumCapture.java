// Reference capture harness: runs a Debezium connector in the embedded engine
// and writes every record as one JSON line:
//
//   {"topic":"...","key":<json|null>,"value":<json|null>,"headers":{"name":"value",...}}
//
// key and value are the exact bytes produced by Kafka Connect's JsonConverter
// (schemas.enable=true unless --schemas false), or, with --avro URL, the bytes of
// Confluent's AvroConverter registering its schemas at URL, as base64 strings. Header values are converted
// with SimpleHeaderConverter (default; what a Kafka Connect worker uses unless
// header.converter is set) or with a schemaless JsonConverter
// (--header-converter json), and embedded as JSON strings.
//
// Build: javac -cp 'libs/*' -d OUT DebeziumCapture.java
// Usage: see usage() below or scripts/debezium-capture.sh --help.

import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;

import org.apache.kafka.connect.header.Header;
import io.confluent.connect.avro.AvroConverter;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.storage.Converter;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.HeaderConverter;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import javax.management.MBeanServer;
import javax.management.ObjectName;

public final class DebeziumCapture {

    static final int EXIT_OK = 0;
    static final int EXIT_ERROR = 1;
    static final int EXIT_TIMEOUT = 2;
    static final int EXIT_USAGE = 64;

    static final class Options {
        Path props;
        String out;
        long records = 0;          // 0 = unlimited
        double idleTimeout = 0;    // seconds, 0 = disabled
        double timeout = 0;        // seconds, 0 = disabled
        Path offsets;              // null = temporary
        boolean schemas = true;
        String headerConverter = "simple";
        String avroRegistry;       // null = JsonConverter
        boolean append = false;
        Path readyFile;
        final Map<String, String> overrides = new HashMap<>();
    }

    static final class UsageException extends Exception {
        UsageException(String msg) {
            super(msg);
        }
    }

    static void usage(java.io.PrintStream ps) {
        ps.println("usage: DebeziumCapture --props FILE --out FILE|- [options]");
        ps.println("  --props FILE            Debezium connector properties (connector.class, database.*, ...)");
        ps.println("  --out FILE              output JSON lines ('-' for stdout)");
        ps.println("  --records N             stop after N records (tombstones included); 0 = no limit");
        ps.println("  --idle-timeout SECS     stop when no record arrived for SECS after the first one");
        ps.println("  --timeout SECS          stop after SECS overall (exit 2 if --records N was not reached)");
        ps.println("  --offsets FILE          offset file (FileOffsetBackingStore); reuse it to resume");
        ps.println("  --schemas true|false    JsonConverter schemas.enable for key and value (default true)");
        ps.println("  --avro URL              Confluent AvroConverter with the schema registry at URL;");
        ps.println("                          key and value are written as base64 strings");
        ps.println("  --header-converter simple|json");
        ps.println("or:    DebeziumCapture --avro-to-json URL --in FILE --out FILE");
        ps.println("  converts Avro records (base64 lines as --avro writes them) to JsonConverter JSON");
        ps.println("                          simple: SimpleHeaderConverter (default, Kafka Connect's default)");
        ps.println("                          json: schemaless JsonConverter (strings come out quoted)");
        ps.println("  --set KEY=VALUE         override/add a connector property (repeatable)");
        ps.println("  --ready-file FILE       create FILE once the connector's streaming phase is connected");
        ps.println("  --append                append to --out instead of truncating it");
        ps.println("exit: 0 clean stop, 1 error, 2 --timeout before --records N, 64 usage");
    }

    static Options parse(String[] args) throws UsageException {
        Options o = new Options();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                usage(System.out);
                System.exit(EXIT_OK);
            }
            if (a.equals("--append")) {
                o.append = true;
                continue;
            }
            String name = a;
            String val;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0 && !a.startsWith("--set")) {
                name = a.substring(0, eq);
                val = a.substring(eq + 1);
            } else {
                if (i + 1 >= args.length) {
                    throw new UsageException("missing value for " + a);
                }
                val = args[++i];
            }
            try {
                switch (name) {
                    case "--props" -> o.props = Paths.get(val);
                    case "--out" -> o.out = val;
                    case "--records" -> o.records = Long.parseLong(val);
                    case "--idle-timeout" -> o.idleTimeout = Double.parseDouble(val);
                    case "--timeout" -> o.timeout = Double.parseDouble(val);
                    case "--offsets" -> o.offsets = Paths.get(val);
                    case "--ready-file" -> o.readyFile = Paths.get(val);
                    case "--schemas" -> {
                        if (!val.equals("true") && !val.equals("false")) {
                            throw new UsageException("--schemas takes true or false");
                        }
                        o.schemas = Boolean.parseBoolean(val);
                    }
                    case "--avro" -> o.avroRegistry = val;
                    case "--header-converter" -> {
                        if (!val.equals("json") && !val.equals("simple")) {
                            throw new UsageException("--header-converter takes json or simple");
                        }
                        o.headerConverter = val;
                    }
                    case "--set" -> {
                        int e = val.indexOf('=');
                        if (e <= 0) {
                            throw new UsageException("--set takes KEY=VALUE");
                        }
                        o.overrides.put(val.substring(0, e).trim(), val.substring(e + 1));
                    }
                    default -> throw new UsageException("unknown option " + a);
                }
            } catch (NumberFormatException e) {
                throw new UsageException("bad number for " + name + ": " + val);
            }
        }
        if (o.props == null) {
            throw new UsageException("--props is required");
        }
        if (o.out == null) {
            throw new UsageException("--out is required");
        }
        if (o.records < 0 || o.idleTimeout < 0 || o.timeout < 0) {
            throw new UsageException("--records/--idle-timeout/--timeout must not be negative");
        }
        return o;
    }

    // ---- JSON line writing -------------------------------------------------------------

    static void appendJsonString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    static final class LineWriter {
        private final Converter keyConverter;
        private final Converter valueConverter;
        private final boolean binary;
        private final HeaderConverter headerConverter;
        private final OutputStream out;

        LineWriter(OutputStream out, boolean schemas, String headerKind, String avroRegistry) {
            this.out = out;
            binary = avroRegistry != null;
            if (binary) {
                keyConverter = new AvroConverter();
                valueConverter = new AvroConverter();
                keyConverter.configure(Map.of("schema.registry.url", avroRegistry), true);
                valueConverter.configure(Map.of("schema.registry.url", avroRegistry), false);
            } else {
                keyConverter = new JsonConverter();
                valueConverter = new JsonConverter();
                keyConverter.configure(Map.of("schemas.enable", String.valueOf(schemas)), true);
                valueConverter.configure(Map.of("schemas.enable", String.valueOf(schemas)), false);
            }
            if (headerKind.equals("simple")) {
                SimpleHeaderConverter shc = new SimpleHeaderConverter();
                shc.configure(Map.of());
                headerConverter = shc;
            } else {
                JsonConverter jc = new JsonConverter();
                jc.configure(Map.of("schemas.enable", "false", "converter.type", "header"));
                headerConverter = jc;
            }
        }

        void write(SourceRecord r) throws IOException {
            String topic = r.topic();
            byte[] key = keyConverter.fromConnectData(topic, r.keySchema(), r.key());
            byte[] value = valueConverter.fromConnectData(topic, r.valueSchema(), r.value());
            if (binary) {
                key = base64String(key);
                value = base64String(value);
            }

            StringBuilder head = new StringBuilder(64);
            head.append("{\"topic\":");
            appendJsonString(head, topic);
            head.append(",\"key\":");
            out.write(head.toString().getBytes(StandardCharsets.UTF_8));
            out.write(key == null ? "null".getBytes(StandardCharsets.UTF_8) : key);
            out.write(",\"value\":".getBytes(StandardCharsets.UTF_8));
            out.write(value == null ? "null".getBytes(StandardCharsets.UTF_8) : value);

            StringBuilder tail = new StringBuilder(64);
            tail.append(",\"headers\":{");
            boolean first = true;
            for (Header h : r.headers()) {
                byte[] hv = headerConverter.fromConnectHeader(topic, h.key(), h.schema(), h.value());
                if (!first) {
                    tail.append(',');
                }
                first = false;
                appendJsonString(tail, h.key());
                tail.append(':');
                if (hv == null) {
                    tail.append("null");
                } else {
                    appendJsonString(tail, new String(hv, StandardCharsets.UTF_8));
                }
            }
            tail.append("}}\n");
            out.write(tail.toString().getBytes(StandardCharsets.UTF_8));
        }

        static byte[] base64String(byte[] bytes) {
            if (bytes == null) {
                return null;
            }
            return ("\"" + Base64.getEncoder().encodeToString(bytes) + "\"").getBytes(StandardCharsets.UTF_8);
        }

        void flush() throws IOException {
            out.flush();
        }

        void close() throws IOException {
            out.flush();
            if (out != System.out) {
                out.close();
            }
        }
    }

    // ---- engine ------------------------------------------------------------------------

    static Properties loadProperties(Options o, Path offsets) throws IOException {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(o.props)) {
            p.load(in);
        }
        for (Map.Entry<String, String> e : o.overrides.entrySet()) {
            p.setProperty(e.getKey(), e.getValue());
        }
        if (p.getProperty("connector.class") == null) {
            throw new IOException("connector.class missing in " + o.props);
        }
        p.putIfAbsent("name", "debezium-capture");
        p.putIfAbsent("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
        p.setProperty("offset.storage.file.filename", offsets.toString());
        p.putIfAbsent("offset.flush.interval.ms", "0");
        // Only read by connectors that keep a schema history (MySQL/MariaDB, ...).
        p.putIfAbsent("schema.history.internal", "io.debezium.storage.file.history.FileSchemaHistory");
        p.putIfAbsent("schema.history.internal.file.filename", offsets + ".schema-history");
        return p;
    }

    /** True once any Debezium streaming-metrics MBean reports Connected=true. */
    static boolean streamingConnected(MBeanServer mbs) {
        try {
            Set<ObjectName> names = mbs.queryNames(new ObjectName("debezium.*:type=connector-metrics,context=streaming,*"), null);
            for (ObjectName n : names) {
                Object v = mbs.getAttribute(n, "Connected");
                if (Boolean.TRUE.equals(v)) {
                    return true;
                }
            }
        } catch (Exception e) {
            // not registered yet or attribute missing
        }
        return false;
    }

    /**
     * mysql-binlog-connector-java (used by the MySQL connector) logs through java.util.logging,
     * which log4j2.properties does not reach; keep it at WARNING like everything else.
     * Held in a field because java.util.logging keeps loggers only weakly.
     */
    static final java.util.logging.Logger BINLOG_CLIENT_LOG = java.util.logging.Logger.getLogger("com.github.shyiko.mysql.binlog");

    public static void main(String[] args) {
        BINLOG_CLIENT_LOG.setLevel(java.util.logging.Level.WARNING);
        if (args.length == 6 && args[0].equals("--avro-to-json") && args[2].equals("--in") && args[4].equals("--out")) {
            int code;
            try {
                code = AvroToJson.run(args[1], args[3], args[5]);
            } catch (Throwable t) {
                System.err.println("debezium-capture: avro-to-json: " + t);
                code = EXIT_ERROR;
            }
            System.err.flush();
            Runtime.getRuntime().halt(code);
        }
        Options o;
        try {
            o = parse(args);
        } catch (UsageException e) {
            System.err.println("debezium-capture: " + e.getMessage());
            usage(System.err);
            System.exit(EXIT_USAGE);
            return;
        }
        int code;
        try {
            code = run(o);
        } catch (Throwable t) {
            System.err.println("debezium-capture: error: " + t);
            code = EXIT_ERROR;
        }
        System.err.flush();
        System.out.flush();
        // Halting avoids waiting on non-daemon threads that connector libraries may leave behind.
        Runtime.getRuntime().halt(code);
    }

    static int run(Options o) throws Exception {
        Path tempDir = null;
        Path offsets = o.offsets;
        if (offsets == null) {
            tempDir = Files.createTempDirectory("dbz-capture-");
            offsets = tempDir.resolve("offsets.dat");
        } else if (offsets.toAbsolutePath().getParent() != null) {
            Files.createDirectories(offsets.toAbsolutePath().getParent());
        }
        Properties props = loadProperties(o, offsets);

        OutputStream rawOut;
        if (o.out.equals("-")) {
            rawOut = System.out;
        } else {
            Path outPath = Paths.get(o.out);
            if (outPath.toAbsolutePath().getParent() != null) {
                Files.createDirectories(outPath.toAbsolutePath().getParent());
            }
            rawOut = new FileOutputStream(outPath.toFile(), o.append);
        }
        LineWriter writer = new LineWriter(new BufferedOutputStream(rawOut, 1 << 16), o.schemas, o.headerConverter, o.avroRegistry);

        final Object lock = new Object();
        final AtomicLong written = new AtomicLong();
        final AtomicLong lastRecordNanos = new AtomicLong(0);
        final AtomicBoolean limitReached = new AtomicBoolean(false);
        final AtomicBoolean engineDone = new AtomicBoolean(false);
        final AtomicReference<String> engineError = new AtomicReference<>();
        final AtomicReference<Throwable> handlerError = new AtomicReference<>();
        final long limit = o.records;

        DebeziumEngine.ChangeConsumer<RecordChangeEvent<SourceRecord>> consumer = (batch, committer) -> {
            synchronized (lock) {
                if (limitReached.get() || handlerError.get() != null) {
                    return;
                }
                try {
                    for (RecordChangeEvent<SourceRecord> ev : batch) {
                        if (limit > 0 && written.get() >= limit) {
                            break;
                        }
                        writer.write(ev.record());
                        written.incrementAndGet();
                        committer.markProcessed(ev);
                    }
                    writer.flush();
                    lastRecordNanos.set(System.nanoTime());
                    if (limit > 0 && written.get() >= limit) {
                        limitReached.set(true);
                    }
                    committer.markBatchFinished();
                } catch (IOException | RuntimeException e) {
                    handlerError.compareAndSet(null, e);
                }
            }
        };

        DebeziumEngine<RecordChangeEvent<SourceRecord>> engine = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
                .using(props)
                .notifying(consumer)
                .using((DebeziumEngine.CompletionCallback) (success, message, error) -> {
                    if (!success) {
                        String m = message != null ? message : "engine failed";
                        if (error != null) {
                            Throwable root = error;
                            while (root.getCause() != null && root.getCause() != root) {
                                root = root.getCause();
                            }
                            m = m + ": " + root;
                        }
                        engineError.compareAndSet(null, m);
                    }
                    engineDone.set(true);
                })
                .build();

        final AtomicBoolean signalled = new AtomicBoolean(false);
        Thread mainThread = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (!engineDone.get()) {
                signalled.set(true);
                try {
                    engine.close();
                } catch (Exception ignored) {
                    // best effort
                }
                try {
                    mainThread.join(30_000);
                } catch (InterruptedException ignored) {
                    // exiting anyway
                }
            }
        }, "debezium-capture-shutdown"));

        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "debezium-engine");
            t.setDaemon(true);
            return t;
        });
        executor.execute(engine);

        MBeanServer mbs = ManagementFactory.getPlatformMBeanServer();
        boolean ready = false;
        long start = System.nanoTime();
        String reason;
        int code = EXIT_OK;
        while (true) {
            if (handlerError.get() != null) {
                reason = "error writing output: " + handlerError.get();
                code = EXIT_ERROR;
                break;
            }
            if (engineError.get() != null) {
                reason = "engine error: " + engineError.get();
                code = EXIT_ERROR;
                break;
            }
            if (limitReached.get()) {
                reason = "record limit reached";
                break;
            }
            if (engineDone.get()) {
                reason = signalled.get() ? "signal" : "engine stopped";
                break;
            }
            long now = System.nanoTime();
            long last = lastRecordNanos.get();
            if (o.idleTimeout > 0 && last != 0 && (now - last) / 1e9 >= o.idleTimeout) {
                reason = "idle timeout";
                break;
            }
            if (o.timeout > 0 && (now - start) / 1e9 >= o.timeout) {
                reason = "timeout";
                if (limit > 0) {
                    code = EXIT_TIMEOUT;
                }
                break;
            }
            if (!ready && o.readyFile != null && streamingConnected(mbs)) {
                ready = true;
                Files.write(o.readyFile, ("streaming " + written.get() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            Thread.sleep(50);
        }

        if (!engineDone.get()) {
            engine.close();
        }
        executor.shutdown();
        if (!executor.awaitTermination(60, TimeUnit.SECONDS)) {
            System.err.println("debezium-capture: warning: engine did not stop within 60s");
        }
        // A failure reported while closing still counts as an error.
        if (code == EXIT_OK && engineError.get() != null && !reason.equals("record limit reached")) {
            reason = "engine error: " + engineError.get();
            code = EXIT_ERROR;
        }
        synchronized (lock) {
            writer.close();
        }
        if (tempDir != null) {
            deleteTree(tempDir);
        }
        String summary = "debezium-capture: " + written.get() + " records written to " + o.out + " (" + reason + ")";
        if (code == EXIT_TIMEOUT) {
            summary += "; expected " + limit;
        }
        System.err.println(summary);
        return code;
    }

    static void deleteTree(Path dir) {
        try (var walk = Files.walk(dir)) {
            List<Path> paths = new ArrayList<>();
            walk.forEach(paths::add);
            for (int i = paths.size() - 1; i >= 0; i--) {
                Files.deleteIfExists(paths.get(i));
            }
        } catch (IOException ignored) {
            // temp dir cleanup is best effort
        }
    }
}
