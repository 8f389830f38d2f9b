// Reads records written in Confluent's Avro wire format and writes them as Kafka Connect's
// JsonConverter writes them, through Confluent's own AvroConverter (its
// KafkaAvroDeserializer and AvroData), fetching the writer schemas from a registry.
//
//   in:  {"topic":"...","key":"<base64>"|null,"value":"<base64>"|null,"headers":{...}}
//   out: {"topic":"...","key":<JSON with schema>|null,"value":<JSON with schema>|null,"headers":{...}}
//
// Run through scripts/debezium-capture.sh --avro-to-json URL --in FILE --out FILE.

import io.confluent.connect.avro.AvroConverter;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.json.JsonConverter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;

import java.io.BufferedReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Base64;
import java.util.Map;

final class AvroToJson {
    static int run(String registry, String in, String out) throws Exception {
        AvroConverter keyAvro = new AvroConverter();
        AvroConverter valueAvro = new AvroConverter();
        keyAvro.configure(Map.of("schema.registry.url", registry), true);
        valueAvro.configure(Map.of("schema.registry.url", registry), false);
        JsonConverter keyJson = new JsonConverter();
        JsonConverter valueJson = new JsonConverter();
        keyJson.configure(Map.of("schemas.enable", "true"), true);
        valueJson.configure(Map.of("schemas.enable", "true"), false);
        ObjectMapper mapper = new ObjectMapper();
        try (BufferedReader reader = Files.newBufferedReader(Paths.get(in), StandardCharsets.UTF_8);
             PrintStream writer = new PrintStream(Files.newOutputStream(Paths.get(out)), false, StandardCharsets.UTF_8)) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                ObjectNode record = (ObjectNode) mapper.readTree(line);
                String topic = record.get("topic").asText();
                record.set("key", convert(record.get("key"), topic, keyAvro, keyJson, mapper));
                record.set("value", convert(record.get("value"), topic, valueAvro, valueJson, mapper));
                writer.println(mapper.writeValueAsString(record));
            }
        }
        return 0;
    }

    static JsonNode convert(JsonNode encoded, String topic, AvroConverter avro, JsonConverter json, ObjectMapper mapper)
            throws Exception {
        if (encoded == null || encoded.isNull()) {
            return mapper.nullNode();
        }
        byte[] bytes = Base64.getDecoder().decode(encoded.asText());
        SchemaAndValue connect = avro.toConnectData(topic, bytes);
        byte[] text = json.fromConnectData(topic, connect.schema(), connect.value());
        return mapper.getNodeFactory().rawValueNode(new RawValue(new String(text, StandardCharsets.UTF_8)));
    }
}
