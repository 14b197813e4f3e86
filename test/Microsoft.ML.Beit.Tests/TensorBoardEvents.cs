using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// Reads TensorBoard event files without TensorBoard or TorchSharp's writer: TFRecord framing (length, masked CRC-32C of the
/// length, the record, masked CRC-32C of the record; both checked, as TensorBoard does) around <c>Event</c> protobuf
/// messages, of which only what scalars need is decoded.
/// </summary>
internal static class TensorBoardEvents
{
    /// <summary>One event: its wall time (seconds since 1970), step, file version (the first event) and scalars.</summary>
    public sealed record Event(double WallTime, long Step, string? FileVersion, IReadOnlyList<(string Tag, float Value)> Scalars);

    /// <summary>The events of every event file under <paramref name="directory"/> (not its subfolders), file by file.</summary>
    public static List<Event> Read(string directory) =>
        Directory.GetFiles(directory, "events.out.tfevents.*").Order(StringComparer.Ordinal).SelectMany(ReadFile).ToList();

    /// <summary>Tag to (step, value) pairs in the order written.</summary>
    public static Dictionary<string, List<(long Step, float Value)>> Scalars(string directory) =>
        Read(directory).SelectMany(e => e.Scalars.Select(s => (s.Tag, e.Step, s.Value)))
            .GroupBy(s => s.Tag).ToDictionary(g => g.Key, g => g.Select(s => (s.Step, s.Value)).ToList());

    static IEnumerable<Event> ReadFile(string file)
    {
        var bytes = File.ReadAllBytes(file);
        for (int at = 0; at < bytes.Length;)
        {
            var length = bytes.AsSpan(at, 8);
            Assert.AreEqual(MaskedCrc(length), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8)), $"{file}: length CRC at byte {at}");
            int size = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(length));
            var record = bytes.AsSpan(at + 12, size);
            Assert.AreEqual(MaskedCrc(record), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12 + size)), $"{file}: record CRC at byte {at}");
            yield return ParseEvent(record.ToArray());
            at += 12 + size + 4;
        }
    }

    // Event: 1 wall_time (double), 2 step (int64), 3 file_version (string), 5 summary. Summary: 1 value (repeated).
    // Summary.Value: 1 tag (string), 2 simple_value (float).
    static Event ParseEvent(byte[] message)
    {
        double wallTime = 0;
        long step = 0;
        string? version = null;
        var scalars = new List<(string, float)>();
        foreach (var (field, value, payload) in Fields(message))
        {
            if (field == 1) wallTime = BitConverter.Int64BitsToDouble((long)value);
            else if (field == 2) step = (long)value;
            else if (field == 3) version = Encoding.UTF8.GetString(payload!);
            else if (field == 5)
                foreach (var (summaryField, _, entry) in Fields(payload!))
                {
                    if (summaryField != 1) continue;
                    string? tag = null;
                    float? simple = null;
                    foreach (var (valueField, bits, text) in Fields(entry!))
                    {
                        if (valueField == 1) tag = Encoding.UTF8.GetString(text!);
                        else if (valueField == 2) simple = BitConverter.Int32BitsToSingle((int)bits);
                    }
                    if (tag is not null && simple is float v) scalars.Add((tag, v));
                }
        }
        return new Event(wallTime, step, version, scalars);
    }

    /// <summary>The fields of a protobuf message: number, the numeric value (varint, fixed32, fixed64), or the bytes of a length-delimited one.</summary>
    static IEnumerable<(int Field, ulong Value, byte[]? Bytes)> Fields(byte[] message)
    {
        int at = 0;
        while (at < message.Length)
        {
            ulong key = Varint(message, ref at);
            int field = (int)(key >> 3);
            switch (key & 7)
            {
                case 0: yield return (field, Varint(message, ref at), null); break;
                case 1: yield return (field, BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(at)), null); at += 8; break;
                case 5: yield return (field, BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(at)), null); at += 4; break;
                case 2:
                    int length = (int)Varint(message, ref at);
                    yield return (field, 0, message[at..(at + length)]);
                    at += length;
                    break;
                default: throw new InvalidDataException($"wire type {key & 7} of field {field}");
            }
        }
    }

    static ulong Varint(byte[] bytes, ref int at)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = bytes[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
    }

    static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xffffffff;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
        }
        crc = ~crc;
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }
}
