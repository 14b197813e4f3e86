namespace Microsoft.ML.Beit.Checkpoints;

/// <summary>
/// The pickle opcodes <see cref="TorchPickleReader"/> understands (names as in CPython's
/// <c>pickletools</c>). Every other opcode is rejected, which is what keeps the reader safe: the
/// opcodes that run code (INST, OBJ, EXT*) or reach outside the pickle are simply not here.
/// </summary>
internal static class TorchPickleOpcodes
{
    // Framing and control.
    public const byte Proto = 0x80, Frame = 0x95, Stop = (byte)'.';
    public const byte Mark = (byte)'(', Pop = (byte)'0', PopMark = (byte)'1', Dup = (byte)'2';

    // Containers.
    public const byte EmptyDict = (byte)'}', EmptyList = (byte)']', EmptyTuple = (byte)')', EmptySet = 0x8f;
    public const byte AddItems = 0x90, FrozenSet = 0x91;
    public const byte Tuple = (byte)'t', Tuple1 = 0x85, Tuple2 = 0x86, Tuple3 = 0x87;
    public const byte List = (byte)'l', Dict = (byte)'d';
    public const byte Append = (byte)'a', Appends = (byte)'e', SetItem = (byte)'s', SetItems = (byte)'u';

    // Memo.
    public const byte Put = (byte)'p', BinPut = (byte)'q', LongBinPut = (byte)'r', Memoize = 0x94;
    public const byte Get = (byte)'g', BinGet = (byte)'h', LongBinGet = (byte)'j';

    // Scalars.
    public const byte Int = (byte)'I', BinInt = (byte)'J', BinInt1 = (byte)'K', BinInt2 = (byte)'M';
    public const byte Long = (byte)'L', Long1 = 0x8a, Long4 = 0x8b;
    public const byte NewTrue = 0x88, NewFalse = 0x89, None = (byte)'N';
    public const byte Float = (byte)'F', BinFloat = (byte)'G';
    public const byte BinUnicode = (byte)'X', ShortBinUnicode = 0x8c, BinUnicode8 = 0x8d;
    public const byte BinString = (byte)'T', ShortBinString = (byte)'U';
    public const byte BinBytes = (byte)'B', ShortBinBytes = (byte)'C', BinBytes8 = 0x8e;

    // Objects: resolved against an allow-list, never imported or called.
    public const byte Global = (byte)'c', StackGlobal = 0x93;
    public const byte Reduce = (byte)'R', Build = (byte)'b', NewObj = 0x81, NewObjEx = 0x92;
    public const byte BinPersId = (byte)'Q';
}
