using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Beit.Onnx;

/// <summary>
/// A small writer of ONNX graphs over the OnnxSharp protobuf types: nodes with generated unique names,
/// float, int8 and int64 initializers, typed inputs and outputs. It knows nothing about BEiT.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    readonly GraphProto _graph = new();
    readonly HashSet<string> _names = new(StringComparer.Ordinal);
    int _counter;

    public OnnxGraphBuilder(string name) => _graph.Name = name;

    public GraphProto Graph => _graph;

    string Fresh(string hint)
    {
        string name = hint;
        while (!_names.Add(name)) name = $"{hint}_{++_counter}";
        return name;
    }

    /// <summary>A float32 initializer of the given shape (row-major data); returns its (unique) name.</summary>
    public string Float(string name, ReadOnlySpan<float> data, params long[] dims) =>
        Raw(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(data), data.Length, dims);

    /// <summary>An int8 initializer of the given shape (row-major data); returns its (unique) name.</summary>
    public string Int8(string name, ReadOnlySpan<sbyte> data, params long[] dims) =>
        Raw(name, TensorProto.Types.DataType.Int8, MemoryMarshal.AsBytes(data), data.Length, dims);

    string Raw(string name, TensorProto.Types.DataType type, ReadOnlySpan<byte> bytes, int length, long[] dims)
    {
        long count = dims.Aggregate(1L, (a, d) => a * d);
        if (count != length)
            throw new ArgumentException($"Initializer '{name}' has {length} values but its shape [{string.Join(", ", dims)}] needs {count}.");
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; exporting on a big-endian machine is not supported.");
        var tensor = new TensorProto { Name = Fresh(name), DataType = (int)type };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(bytes);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>A float32 scalar initializer.</summary>
    public string Scalar(string name, float value) => Float(name, [value]);

    /// <summary>An int64 initializer (shapes, axes, indices); a 0-d scalar when <paramref name="scalar"/> is set.</summary>
    public string Int64(string name, long[] values, bool scalar = false)
    {
        if (scalar && values.Length != 1) throw new ArgumentException("A scalar holds exactly one value.", nameof(values));
        var tensor = new TensorProto { Name = Fresh(name), DataType = (int)TensorProto.Types.DataType.Int64 };
        if (!scalar) tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string opType, string output, string[] inputs, params AttributeProto[] attributes) =>
        NodeOutputs(opType, [output], inputs, attributes)[0];

    /// <summary>Adds a node; <paramref name="outputs"/> are name hints made unique.</summary>
    public string[] NodeOutputs(string opType, string[] outputs, string[] inputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType };
        node.Name = Fresh($"{opType}_{outputs[0]}");
        node.Input.AddRange(inputs);
        var names = outputs.Select(Fresh).ToArray();
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return names;
    }

    /// <summary>Renames the value <paramref name="value"/> to the exact graph output name <paramref name="name"/> (an Identity node).</summary>
    public void Output(string value, string name, string doc, params object[] dims)
    {
        if (!_names.Add(name))
            throw new InvalidOperationException($"The graph already has a value named '{name}'.");
        var node = new NodeProto { OpType = "Identity", Name = Fresh($"Identity_{name}") };
        node.Input.Add(value);
        node.Output.Add(name);
        _graph.Node.Add(node);
        _graph.Output.Add(ValueInfo(name, doc, dims));
    }

    /// <summary>Declares a float32 graph input; dims are numbers or symbolic names (strings).</summary>
    public string Input(string name, string doc, params object[] dims)
    {
        if (!_names.Add(name))
            throw new InvalidOperationException($"The graph already has a value named '{name}'.");
        _graph.Input.Add(ValueInfo(name, doc, dims));
        return name;
    }

    static ValueInfoProto ValueInfo(string name, string doc, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                int n => new TensorShapeProto.Types.Dimension { DimValue = n },
                long n => new TensorShapeProto.Types.Dimension { DimValue = n },
                _ => throw new ArgumentException($"A dimension is a number or a symbolic name, not {d.GetType().Name}."),
            });
        return new ValueInfoProto
        {
            Name = name,
            DocString = doc,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape },
            },
        };
    }

    public static AttributeProto AttrInt(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto AttrFloat(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto AttrString(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto AttrInts(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }
}
