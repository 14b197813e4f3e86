using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Numerics;
using System.Text;
using TorchSharp;
using static Microsoft.ML.Beit.Checkpoints.TorchPickleOpcodes;
using static TorchSharp.torch;

namespace Microsoft.ML.Beit.Checkpoints;

/// <summary>
/// An inert stand-in for a Python global the reader gives no meaning to (for example
/// <c>argparse.Namespace</c>). Calling, constructing or building it yields a placeholder again.
/// </summary>
/// <param name="Module">The global's module, as written in the pickle.</param>
/// <param name="Name">The global's name, as written in the pickle.</param>
internal sealed record PythonObjectPlaceholder(string Module, string Name);

/// <summary>
/// Reads PyTorch <c>torch.save</c> zip archives (.pth, .pt, .bin) without executing anything: a small
/// pickle machine that only builds plain values and CPU tensors, and resolves globals against an
/// allow-list instead of importing them. Every size is checked against the archive before memory is
/// allocated, so a hostile file fails with <see cref="InvalidDataException"/> rather than running code
/// or exhausting memory.
/// </summary>
internal static class TorchPickleReader
{
    const long MaxPickleBytes = 1L << 30;
    // Zero strides let a tiny storage describe a huge tensor; materializing those may cost at most this much in all.
    const long MaxExpansionBytes = 256L << 20;
    // Deflate cannot compress beyond about 1032:1, so a larger claimed ratio is a lie about the entry's size.
    const long MaxDeflateRatio = 1100;

    sealed record Builtin(string Name);
    sealed record StorageType(string Name, ScalarType DType, int ElementSize);
    sealed record Storage(string Entry, StorageType Type, Tensor Data);

    static readonly Dictionary<string, object> Globals = BuildGlobals();

    static Dictionary<string, object> BuildGlobals()
    {
        var globals = new Dictionary<string, object>
        {
            ["collections.OrderedDict"] = new Builtin("OrderedDict"),
            ["torch._utils._rebuild_tensor"] = new Builtin("_rebuild_tensor"),
            ["torch._utils._rebuild_tensor_v2"] = new Builtin("_rebuild_tensor"),
            ["torch._utils._rebuild_parameter"] = new Builtin("_rebuild_parameter"),
            ["torch._utils._rebuild_parameter_with_state"] = new Builtin("_rebuild_parameter"),
            ["torch._tensor._rebuild_from_type_v2"] = new Builtin("_rebuild_from_type_v2"),
            // Protocol 2 writes Python 3 bytes as _codecs.encode(text, 'latin1').
            ["_codecs.encode"] = new Builtin("encode"),
        };
        foreach (var (name, dtype, size) in new (string, ScalarType, int)[]
        {
            ("FloatStorage", ScalarType.Float32, 4), ("DoubleStorage", ScalarType.Float64, 8),
            ("HalfStorage", ScalarType.Float16, 2), ("BFloat16Storage", ScalarType.BFloat16, 2),
            ("LongStorage", ScalarType.Int64, 8), ("IntStorage", ScalarType.Int32, 4),
            ("ShortStorage", ScalarType.Int16, 2), ("CharStorage", ScalarType.Int8, 1),
            ("ByteStorage", ScalarType.Byte, 1), ("BoolStorage", ScalarType.Bool, 1),
            ("UntypedStorage", ScalarType.Byte, 1),
        })
            globals["torch." + name] = new StorageType(name, dtype, size);
        return globals;
    }

    /// <summary>Reads a torch.save zip archive and returns its top-level object as plain .NET values.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <returns>
    /// The unpickled object: dicts and OrderedDicts as <c>Dictionary&lt;object, object?&gt;</c> (insertion
    /// order kept), lists as <c>List&lt;object?&gt;</c>, tuples as <c>object?[]</c>, str, int (long or
    /// <see cref="BigInteger"/>), float (double), bool, None (null), bytes (byte[]), sets as
    /// <c>HashSet&lt;object?&gt;</c>, tensors as contiguous CPU <see cref="Tensor"/>s that own their memory,
    /// and any other Python object as a <see cref="PythonObjectPlaceholder"/>.
    /// </returns>
    /// <exception cref="InvalidDataException">
    /// The file is not a torch.save zip archive (for example the legacy pre-1.6 format), is truncated or
    /// malformed, or uses a pickle opcode this reader does not run; the message names the file and, where
    /// one is involved, the storage entry.
    /// </exception>
    public static object? Load(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        if (read >= 1 && magic[0] == Proto)
            throw new InvalidDataException(
                $"{path} is a legacy (pre-1.6) torch.save file, which is a bare pickle rather than a zip archive and is not supported. " +
                "Re-save it with torch.save(obj, path) on torch >= 1.6, or convert it to safetensors.");
        if (read < 2 || magic[0] != (byte)'P' || magic[1] != (byte)'K')
            throw new InvalidDataException($"{path} is not a torch.save checkpoint: it is not a zip archive.");
        file.Position = 0;

        ZipArchive? zip = null;
        try
        {
            zip = new ZipArchive(file, ZipArchiveMode.Read);
            // The central directory is read on first use of Entries: read it here, where a broken one is named with the file.
            _ = zip.Entries.Count;
        }
        catch (InvalidDataException e)
        {
            zip?.Dispose();
            throw new InvalidDataException($"{path} is truncated or not a valid zip archive: {e.Message}", e);
        }
        using (zip)
        {
            // The archive's single top-level folder (often "archive" or the file stem) holds data.pkl.
            var pickle = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                                                         && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length)
                ?? throw new InvalidDataException($"{path} is a zip archive but not a torch.save checkpoint: it has no <prefix>/data.pkl.");
            string prefix = pickle.FullName[..^"data.pkl".Length];
            // Entries are only ever read by name, never extracted, but a path-like folder marks a crafted archive.
            if (prefix.Contains("..") || prefix.StartsWith('/') || prefix.Contains('\\'))
                throw new InvalidDataException($"{path}: the archive's folder '{prefix}' is a path that leaves the archive; the file is crafted or corrupt.");
            if (zip.GetEntry(prefix + "byteorder") is { } byteorder)
            {
                string order = Encoding.ASCII.GetString(ReadEntry(path, byteorder, 64, file.Length)).Trim();
                if (order != "little")
                    throw new InvalidDataException($"{path} stores tensors in '{order}' byte order; only little-endian checkpoints are supported. Re-save it on a little-endian machine.");
            }
            return new Machine(path, zip, prefix, file.Length, ReadEntry(path, pickle, MaxPickleBytes, file.Length)).Run();
        }
    }

    static byte[] ReadEntry(string path, ZipArchiveEntry entry, long maxBytes, long fileLength)
    {
        CheckSizes(path, entry, fileLength);
        if (entry.Length > maxBytes)
            throw new InvalidDataException($"{path}: entry '{entry.FullName}' is {entry.Length} bytes, more than the {maxBytes} allowed.");
        var bytes = new byte[entry.Length];
        try
        {
            using var stream = entry.Open();
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new InvalidDataException($"{path}: entry '{entry.FullName}' is truncated or corrupt ({e.Message}).", e);
        }
        return bytes;
    }

    static void CheckSizes(string path, ZipArchiveEntry entry, long fileLength)
    {
        if (entry.CompressedLength > fileLength || entry.Length > Math.Max(entry.CompressedLength, 1) * MaxDeflateRatio)
            throw new InvalidDataException(
                $"{path}: entry '{entry.FullName}' claims {entry.Length} bytes from {entry.CompressedLength} compressed in a {fileLength}-byte file; the archive is corrupt.");
    }

    /// <summary>The pickle machine: a value stack, a stack of mark positions and the memo.</summary>
    sealed class Machine(string path, ZipArchive zip, string prefix, long fileLength, byte[] data)
    {
        readonly List<object?> stack = [];
        readonly Stack<int> marks = new();
        readonly Dictionary<long, object?> memo = [];
        readonly Dictionary<(string Key, ScalarType DType), Storage> storages = [];
        readonly List<Tensor> results = [];
        long expansion;
        int pos, at;

        public object? Run()
        {
            try
            {
                while (true)
                {
                    at = pos;
                    byte op = Take(1)[0];
                    if (op == Stop) return PopValue();
                    Step(op);
                }
            }
            catch (Exception e)
            {
                foreach (var tensor in results) tensor.Dispose();
                if (e is OverflowException or FormatException or InvalidCastException)
                    throw Bad($"malformed value ({e.Message})");
                throw;
            }
            finally
            {
                foreach (var storage in storages.Values) storage.Data.Dispose();
            }
        }

        void Step(byte op)
        {
            switch (op)
            {
                case Proto: if (Take(1)[0] > 5) throw Bad("pickle protocol above 5"); break;
                case Frame: Take(8); break; // Frames only batch reads; the whole pickle is already in memory.
                case Mark: marks.Push(stack.Count); break;
                case TorchPickleOpcodes.Pop: if (stack.Count > Floor) stack.RemoveAt(stack.Count - 1); else PopToMark(); break;
                case PopMark: PopToMark(); break;
                case Dup: Push(Peek()); break;

                case EmptyDict: Push(new Dictionary<object, object?>()); break;
                case EmptyList: Push(new List<object?>()); break;
                case EmptyTuple: Push(Array.Empty<object?>()); break;
                case EmptySet: Push(new HashSet<object?>()); break;
                case AddItems: { var items = PopToMark(); As<HashSet<object?>>(Peek()).UnionWith(items); break; }
                case FrozenSet: Push(new HashSet<object?>(PopToMark())); break;
                case TorchPickleOpcodes.Tuple: Push(PopToMark().ToArray()); break;
                case Tuple1: Push(new[] { PopValue() }); break;
                case Tuple2: { var b = PopValue(); var a = PopValue(); Push(new[] { a, b }); break; }
                case Tuple3: { var c = PopValue(); var b = PopValue(); var a = PopValue(); Push(new[] { a, b, c }); break; }
                case TorchPickleOpcodes.List: Push(PopToMark()); break;
                case TorchPickleOpcodes.Dict: { var d = new Dictionary<object, object?>(); AddPairs(d, PopToMark()); Push(d); break; }
                case Append: { var v = PopValue(); Extend(Peek(), [v]); break; }
                case Appends: { var items = PopToMark(); Extend(Peek(), items); break; }
                case SetItem: { var v = PopValue(); var k = PopValue(); AddPairs(Peek(), [k, v]); break; }
                case SetItems: { var items = PopToMark(); AddPairs(Peek(), items); break; }

                case Put: memo[long.Parse(Line(), CultureInfo.InvariantCulture)] = Peek(); break;
                case BinPut: memo[Take(1)[0]] = Peek(); break;
                case LongBinPut: memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(); break;
                case Memoize: memo[memo.Count] = Peek(); break;
                case Get: Push(Recall(long.Parse(Line(), CultureInfo.InvariantCulture))); break;
                case BinGet: Push(Recall(Take(1)[0])); break;
                case LongBinGet: Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;

                case Int: { string s = Line(); Push(s == "00" ? (object)false : s == "01" ? true : ParseInteger(s)); break; }
                case TorchPickleOpcodes.Long: Push(ParseInteger(Line().TrimEnd('L'))); break;
                case BinInt: Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case BinInt1: Push((long)Take(1)[0]); break;
                case BinInt2: Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case Long1: Push(DecodeLong(Take(Take(1)[0]))); break;
                case Long4: Push(DecodeLong(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break;
                case NewTrue: Push(true); break;
                case NewFalse: Push(false); break;
                case None: Push(null); break;
                case TorchPickleOpcodes.Float: Push(double.Parse(Line(), CultureInfo.InvariantCulture)); break;
                case BinFloat: Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // big-endian, unlike the rest

                case BinUnicode: Push(Encoding.UTF8.GetString(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))))); break;
                case ShortBinUnicode: Push(Encoding.UTF8.GetString(Take(Take(1)[0]))); break;
                case BinUnicode8: Push(Encoding.UTF8.GetString(Take(BinaryPrimitives.ReadUInt64LittleEndian(Take(8))))); break;
                // Python 2 str: Python 3 decodes it as text; Latin-1 keeps every byte.
                case BinString: Push(Encoding.Latin1.GetString(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break;
                case ShortBinString: Push(Encoding.Latin1.GetString(Take(Take(1)[0]))); break;
                case BinBytes: Push(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))).ToArray()); break;
                case ShortBinBytes: Push(Take(Take(1)[0]).ToArray()); break;
                case BinBytes8: Push(Take(BinaryPrimitives.ReadUInt64LittleEndian(Take(8))).ToArray()); break;

                case Global: { string module = Line(); Push(Resolve(module, Line())); break; }
                case StackGlobal: { var name = As<string>(PopValue()); Push(Resolve(As<string>(PopValue()), name)); break; }
                case TorchPickleOpcodes.Reduce: case NewObj: { var args = As<object?[]>(PopValue()); Push(Call(PopValue(), args)); break; }
                case NewObjEx: { PopValue(); var args = As<object?[]>(PopValue()); Push(Call(PopValue(), args)); break; }
                // BUILD sets attributes (OrderedDict's _metadata, an object's __dict__), never dict items;
                // nothing here has attributes worth keeping, so the state is dropped.
                case Build: PopValue(); Peek(); break;
                case BinPersId: Push(LoadStorage(PopValue())); break;
                default: throw Bad($"unsupported pickle opcode 0x{op:X2}");
            }
        }

        int Floor => marks.Count > 0 ? marks.Peek() : 0;

        void Push(object? value) => stack.Add(value);

        object? Peek() => stack.Count > Floor ? stack[^1] : throw Bad("stack underflow");

        object? PopValue()
        {
            var value = Peek();
            stack.RemoveAt(stack.Count - 1);
            return value;
        }

        List<object?> PopToMark()
        {
            if (marks.Count == 0) throw Bad("no MARK to pop to");
            int mark = marks.Pop();
            var items = stack.GetRange(mark, stack.Count - mark);
            stack.RemoveRange(mark, stack.Count - mark);
            return items;
        }

        object? Recall(long index) => memo.TryGetValue(index, out var value) ? value : throw Bad($"memo entry {index} is not set");

        ReadOnlySpan<byte> Take(long count)
        {
            if (count < 0 || count > data.Length - pos)
                throw new InvalidDataException($"{path}: data.pkl is truncated (needs {count} more bytes at offset {pos} of {data.Length}).");
            var span = data.AsSpan(pos, (int)count);
            pos += (int)count;
            return span;
        }

        ReadOnlySpan<byte> Take(ulong count) => Take(count > long.MaxValue ? -1 : (long)count);

        string Line()
        {
            int end = Array.IndexOf(data, (byte)'\n', pos);
            if (end < 0) throw new InvalidDataException($"{path}: data.pkl is truncated (unterminated line at offset {pos}).");
            string line = Encoding.UTF8.GetString(Take(end - pos));
            pos++;
            return line;
        }

        T As<T>(object? value) => value is T t ? t : throw Bad($"expected {typeof(T).Name} but found {Describe(value)}");

        void Extend(object? target, List<object?> items)
        {
            if (target is List<object?> list) list.AddRange(items);
            else if (target is not PythonObjectPlaceholder) throw Bad($"cannot append to {Describe(target)}");
        }

        void AddPairs(object? target, List<object?> items)
        {
            if (items.Count % 2 != 0) throw Bad("odd number of items for a dict");
            if (target is PythonObjectPlaceholder) return;
            var dict = As<Dictionary<object, object?>>(target);
            for (int i = 0; i < items.Count; i += 2)
                dict[items[i] ?? throw Bad("None as a dict key is not supported")] = items[i + 1];
        }

        static object Resolve(string module, string name) =>
            Globals.TryGetValue(module + "." + name, out var known) ? known : new PythonObjectPlaceholder(module, name);

        object? Call(object? callable, object?[] args) => callable switch
        {
            PythonObjectPlaceholder placeholder => placeholder, // never executed, whatever it names
            Builtin { Name: "OrderedDict" } => NewDict(args),
            Builtin { Name: "_rebuild_tensor" } => RebuildTensor(args),
            Builtin { Name: "_rebuild_parameter" } when args.Length >= 1 => As<Tensor>(args[0]), // requires_grad is training state
            // Tensor subclasses: rebuild the plain tensor and drop the subclass. Not nested, so a hostile chain cannot recurse deeply.
            Builtin { Name: "_rebuild_from_type_v2" } when args.Length >= 3 && args[0] is not Builtin { Name: "_rebuild_from_type_v2" }
                => Call(args[0], As<object?[]>(args[2])),
            Builtin { Name: "encode" } when args.Length >= 1 => Encoding.Latin1.GetBytes(As<string>(args[0])),
            _ => throw Bad($"cannot call {Describe(callable)} with {args.Length} arguments"),
        };

        Dictionary<object, object?> NewDict(object?[] args)
        {
            var dict = new Dictionary<object, object?>();
            if (args.Length > 0 && args[0] is List<object?> pairs)
                foreach (var pair in pairs)
                {
                    var kv = As<object?[]>(pair);
                    if (kv.Length != 2) throw Bad("OrderedDict item is not a pair");
                    AddPairs(dict, [kv[0], kv[1]]);
                }
            return dict;
        }

        /// <summary>Resolves a persistent id ('storage', type, key, location, numel) to the storage's data, loading it once.</summary>
        Storage LoadStorage(object? pid)
        {
            if (pid is not object?[] { Length: 5 } id || id[0] is not "storage")
                throw Bad($"unsupported persistent id {Describe(pid)}");
            var type = id[1] as StorageType ?? throw Bad($"unsupported storage type {Describe(id[1])}");
            string key = id[2] is long number ? number.ToString(CultureInfo.InvariantCulture) : As<string>(id[2]);
            long numel = ToLong(id[4]);
            if (storages.TryGetValue((key, type.DType), out var cached)) return cached;

            // Storage keys are plain names inside data/; anything path-like is a crafted file.
            if (key.Length == 0 || key.Contains('/') || key.Contains('\\') || key.Contains(".."))
                throw Bad($"storage key '{key}' is not a plain name inside data/");
            string name = prefix + "data/" + key;
            var entry = zip.GetEntry(name) ?? throw BadStorage(name, "is missing from the archive");
            CheckSizes(path, entry, fileLength);
            if (numel < 0 || numel > entry.Length / type.ElementSize)
                throw BadStorage(name, $"holds {entry.Length} bytes, too few for the {numel} elements of its {type.Name}");

            var tensor = empty(new[] { numel }, type.DType);
            try
            {
                using var stream = entry.Open();
                // Spans address at most 2 GiB, so large storages are filled through narrowed views.
                long chunk = (1L << 30) / type.ElementSize;
                for (long done = 0; done < numel; done += chunk)
                {
                    using var part = tensor.narrow(0, done, Math.Min(chunk, numel - done));
                    stream.ReadExactly(part.bytes);
                }
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                tensor.Dispose();
                throw BadStorage(name, $"is truncated or corrupt ({e.Message})");
            }
            return storages[(key, type.DType)] = new Storage(name, type, tensor);
        }

        /// <summary><c>_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)</c>: copies the strided elements into a new contiguous tensor.</summary>
        Tensor RebuildTensor(object?[] args)
        {
            if (args.Length < 4) throw Bad("_rebuild_tensor_v2 needs storage, offset, size and stride");
            var storage = As<Storage>(args[0]);
            long offset = ToLong(args[1]);
            long[] size = As<object?[]>(args[2]).Select(ToLong).ToArray();
            long[] stride = As<object?[]>(args[3]).Select(ToLong).ToArray();
            string layout = $"size [{string.Join(", ", size)}], stride [{string.Join(", ", stride)}], offset {offset}";
            if (size.Length != stride.Length || offset < 0 || size.Any(d => d < 0) || stride.Any(s => s < 0))
                throw BadStorage(storage.Entry, $"is viewed with an invalid layout ({layout})");

            long numel = 1, last = offset;
            for (int i = 0; i < size.Length; i++)
            {
                numel = checked(numel * size[i]);
                if (size[i] > 0) last = checked(last + (size[i] - 1) * stride[i]);
            }
            long available = storage.Data.shape[0];
            if (numel > 0 && last >= available)
                throw BadStorage(storage.Entry, $"holds {available} elements, but a tensor with {layout} reads element {last}");
            if (numel > available && (expansion += checked(numel * storage.Type.ElementSize)) > MaxExpansionBytes)
                throw BadStorage(storage.Entry, $"backs a tensor ({layout}) whose overlapping strides would need more than {MaxExpansionBytes} bytes");

            var result = empty(size, storage.Type.DType);
            results.Add(result);
            if (numel > 0)
            {
                using var view = storage.Data.as_strided(size, stride, offset);
                result.copy_(view);
            }
            return result;
        }

        long ToLong(object? value) => value switch
        {
            long l => l,
            bool b => b ? 1 : 0,
            BigInteger big => (long)big,
            _ => throw Bad($"expected an int but found {Describe(value)}"),
        };

        static object ParseInteger(string text) =>
            long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value)
                ? value : Narrow(BigInteger.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));

        /// <summary>LONG1/LONG4 payload: little-endian two's complement of any length.</summary>
        static object DecodeLong(ReadOnlySpan<byte> bytes) =>
            Narrow(bytes.IsEmpty ? BigInteger.Zero : new BigInteger(bytes, isUnsigned: false, isBigEndian: false));

        static object Narrow(BigInteger value) => value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;

        static string Describe(object? value) => value switch
        {
            null => "None",
            PythonObjectPlaceholder p => $"{p.Module}.{p.Name}",
            Builtin b => b.Name,
            StorageType s => "torch." + s.Name,
            Storage s => $"storage '{s.Entry}'",
            string s => $"'{(s.Length > 40 ? s[..40] + "..." : s)}'",
            object?[] t => $"tuple of {t.Length}",
            _ => value.GetType().Name,
        };

        InvalidDataException Bad(string message) => new($"{path}: {message} at offset {at} of data.pkl.");

        InvalidDataException BadStorage(string entry, string message) => new($"{path}: storage '{entry}' {message}.");
    }
}
