using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Checkpoints;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and byte range, then the raw little-endian tensor bytes.
/// Nothing in the file is executed; every size and offset is checked before memory is allocated.
/// </summary>
public static class SafetensorsFile
{
    const long MaxHeaderBytes = 100L << 20;

    static readonly Dictionary<string, ScalarType> DTypes = new()
    {
        ["F64"] = ScalarType.Float64, ["F32"] = ScalarType.Float32, ["F16"] = ScalarType.Float16, ["BF16"] = ScalarType.BFloat16,
        ["I64"] = ScalarType.Int64, ["I32"] = ScalarType.Int32, ["I16"] = ScalarType.Int16, ["I8"] = ScalarType.Int8,
        ["U8"] = ScalarType.Byte, ["BOOL"] = ScalarType.Bool,
    };

    /// <summary>Reads every tensor of a file, in file order, onto the CPU.</summary>
    /// <exception cref="InvalidDataException">The file is not valid safetensors; the message names the file and the tensor.</exception>
    public static Dictionary<string, Tensor> Read(string path) => Read(path, out _);

    /// <summary>Reads every tensor of a file and its <c>__metadata__</c> strings.</summary>
    public static Dictionary<string, Tensor> Read(string path, out Dictionary<string, string> metadata)
    {
        using var stream = File.OpenRead(path);
        return Read(stream, path, out metadata);
    }

    /// <summary>Reads every tensor from a seekable stream; <paramref name="source"/> names it in errors.</summary>
    public static Dictionary<string, Tensor> Read(Stream stream, string source, out Dictionary<string, string> metadata)
    {
        string path = source;
        var header = ReadHeader(stream, path, out long dataStart);
        metadata = header.TryGetPropertyValue("__metadata__", out var meta) && meta is JsonObject m
            ? m.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? "")
            : [];

        CheckRangesDoNotOverlap(header, path);
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (name, node) in header)
            {
                if (name == "__metadata__") continue;
                tensors.Add(name, ReadTensor(stream, path, name, node, dataStart));
            }
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        return tensors;
    }

    /// <summary>The names, dtypes and shapes in a file, without reading tensor data.</summary>
    public static IReadOnlyList<(string Name, string DType, long[] Shape)> ReadLayout(string path)
    {
        using var stream = File.OpenRead(path);
        var header = ReadHeader(stream, path, out _);
        return header.Where(p => p.Key != "__metadata__")
            .Select(p => (p.Key, p.Value?["dtype"]?.GetValue<string>() ?? "?", ParseShape(path, p.Key, p.Value)))
            .ToList();
    }

    /// <summary>
    /// Writes tensors (any device, any supported dtype) to <paramref name="path"/> atomically: the file
    /// is written beside it and renamed into place, so an interrupted write never leaves half a file.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        string temporary = path + ".partial";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            Write(stream, tensors, metadata);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Writes tensors in safetensors format to a stream (for example an entry of a model zip).</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        WriteTo(stream, list, Header(list, metadata));
    }


    static JsonObject Header(List<KeyValuePair<string, Tensor>> list, IReadOnlyDictionary<string, string>? metadata)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value))));
        long offset = 0;
        foreach (var (name, tensor) in list)
        {
            string dtype = DTypes.FirstOrDefault(p => p.Value == tensor.dtype).Key
                ?? throw new ArgumentException($"Tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store.");
            long size = tensor.numel() * tensor.ElementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(tensor.shape.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        return header;
    }

    static void WriteTo(Stream stream, List<KeyValuePair<string, Tensor>> list, JsonObject header)
    {
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        stream.Write(length);
        stream.Write(json);
        for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var (_, tensor) in list)
        {
            using var scope = NewDisposeScope();
            var cpu = tensor.detach().cpu().contiguous();
            if (cpu.numel() > 0) stream.Write(cpu.bytes);
        }
    }

    // The format stores each tensor once: two tensors sharing bytes mean a crafted or corrupt file.
    static void CheckRangesDoNotOverlap(JsonObject header, string path)
    {
        var ranges = new List<(long Begin, long End, string Name)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__") continue;
            try
            {
                if (node?["data_offsets"] is JsonArray { Count: 2 } o && o[0]!.GetValue<long>() is var begin && o[1]!.GetValue<long>() is var end && end > begin)
                    ranges.Add((begin, end, name));
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                // A malformed entry is reported, with its name, when the tensor is read.
            }
        }
        ranges.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        for (int i = 1; i < ranges.Count; i++)
            if (ranges[i].Begin < ranges[i - 1].End)
                throw new InvalidDataException($"{path}: the data of tensors '{ranges[i - 1].Name}' and '{ranges[i].Name}' overlap; the file is corrupt or crafted.");
    }

    static JsonObject ReadHeader(Stream stream, string path, out long dataStart)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) < 8)
            throw new InvalidDataException($"{path} is not a safetensors file: it is shorter than the 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength == 0 || headerLength > (ulong)Math.Min(MaxHeaderBytes, stream.Length - 8))
            throw new InvalidDataException(
                $"{path} is not a safetensors file: its header length {headerLength} does not fit the file ({stream.Length} bytes).");
        var json = new byte[headerLength];
        stream.ReadExactly(json);
        dataStart = 8 + (long)headerLength;
        string text;
        try
        {
            // Strict decoding up front: invalid UTF-8 would otherwise surface later, from inside the JSON reader, as another exception type.
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(json);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"{path}: the safetensors header is not valid UTF-8 ({e.Message}).", e);
        }
        try
        {
            return JsonNode.Parse(text) as JsonObject
                ?? throw new InvalidDataException($"{path}: the safetensors header is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the safetensors header is not valid JSON ({e.Message}).", e);
        }
    }

    static long[] ParseShape(string path, string name, JsonNode? node)
    {
        try
        {
            var shape = node!["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            if (shape.Any(d => d < 0)) throw new InvalidDataException("negative dimension");
            return shape;
        }
        catch (Exception e) when (e is not InvalidDataException || e.Message == "negative dimension")
        {
            throw new InvalidDataException($"{path}: tensor '{name}' has no valid shape in the header.", e);
        }
    }

    static Tensor ReadTensor(Stream stream, string path, string name, JsonNode? node, long dataStart)
    {
        try
        {
            return ReadTensorUnchecked(stream, path, name, node, dataStart);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: the header entry of tensor '{name}' is malformed ({e.Message}).", e);
        }
    }

    static Tensor ReadTensorUnchecked(Stream stream, string path, string name, JsonNode? node, long dataStart)
    {
        string dtypeName = node?["dtype"]?.GetValue<string>() ?? "";
        if (!DTypes.TryGetValue(dtypeName, out var dtype))
            throw new InvalidDataException($"{path}: tensor '{name}' has dtype '{dtypeName}', which is not supported.");
        long[] shape = ParseShape(path, name, node);
        var offsets = node!["data_offsets"]?.AsArray().Select(o => o!.GetValue<long>()).ToArray();
        if (offsets is not { Length: 2 } || offsets[0] < 0 || offsets[1] < offsets[0] || dataStart + offsets[1] > stream.Length)
            throw new InvalidDataException($"{path}: tensor '{name}' has data offsets outside the file.");

        long numel = 1;
        foreach (long d in shape) numel = checked(numel * d);
        long bytes = offsets[1] - offsets[0];
        // Checked against the data range before allocating, so a hostile shape cannot ask for memory.
        if (bytes != checked(numel * ElementSize(dtype)))
            throw new InvalidDataException(
                $"{path}: tensor '{name}' is {dtypeName} [{string.Join(", ", shape)}] ({numel * ElementSize(dtype)} bytes) but its data range holds {bytes} bytes.");
        var tensor = empty(shape, dtype);
        try
        {
            if (numel > 0)
            {
                stream.Seek(dataStart + offsets[0], SeekOrigin.Begin);
                stream.ReadExactly(tensor.bytes);
            }
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };
}
