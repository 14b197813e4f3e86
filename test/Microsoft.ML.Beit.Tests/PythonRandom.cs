namespace Microsoft.ML.Beit.Tests;

/// <summary>
/// A <see cref="Random"/> that replays CPython's <c>random</c> module (Mersenne Twister MT19937) after
/// <c>random.seed(seed)</c>: <see cref="NextDouble"/> is <c>random.random()</c> and <see cref="Next(int, int)"/> is
/// <c>random.randrange(min, max)</c>. With it, code that draws as a Python reference does reproduces the reference's
/// exact outputs instead of only its statistics.
/// </summary>
internal sealed class PythonRandom : Random
{
    const int N = 624, M = 397;
    readonly uint[] _state = new uint[N];
    int _index;

    /// <summary>The stream of Python's <c>random.seed(seed)</c> for a seed below 2^32.</summary>
    public PythonRandom(uint seed)
    {
        // Python seeds from an int through init_by_array with the int's 32-bit words; below 2^32 that is one word.
        Initialize(19650218u);
        int i = 1;
        for (int k = N; k > 0; k--)
        {
            _state[i] = (_state[i] ^ ((_state[i - 1] ^ (_state[i - 1] >> 30)) * 1664525u)) + seed;
            if (++i >= N) { _state[0] = _state[N - 1]; i = 1; }
        }
        for (int k = N - 1; k > 0; k--)
        {
            _state[i] = (_state[i] ^ ((_state[i - 1] ^ (_state[i - 1] >> 30)) * 1566083941u)) - (uint)i;
            if (++i >= N) { _state[0] = _state[N - 1]; i = 1; }
        }
        _state[0] = 0x80000000u;
        _index = N;
    }

    void Initialize(uint seed)
    {
        _state[0] = seed;
        for (int i = 1; i < N; i++)
            _state[i] = 1812433253u * (_state[i - 1] ^ (_state[i - 1] >> 30)) + (uint)i;
    }

    uint NextUInt32()
    {
        if (_index >= N)
        {
            for (int i = 0; i < N; i++)
            {
                uint y = (_state[i] & 0x80000000u) | (_state[(i + 1) % N] & 0x7fffffffu);
                _state[i] = _state[(i + M) % N] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
            }
            _index = 0;
        }
        uint z = _state[_index++];
        z ^= z >> 11;
        z ^= (z << 7) & 0x9d2c5680u;
        z ^= (z << 15) & 0xefc60000u;
        return z ^ (z >> 18);
    }

    /// <summary>Python's <c>random.random()</c>: 53 random bits from two 32-bit outputs.</summary>
    public override double NextDouble()
    {
        ulong a = NextUInt32() >> 5, b = NextUInt32() >> 6;
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }

    /// <inheritdoc cref="NextDouble"/>
    protected override double Sample() => NextDouble();

    /// <summary>Python's <c>random.randrange(minValue, maxValue)</c> (so <c>randint(a, b)</c> is <c>Next(a, b + 1)</c>).</summary>
    public override int Next(int minValue, int maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(minValue, maxValue);
        return minValue + (int)Below((uint)(maxValue - minValue));
    }

    /// <summary>Python's <c>random.randrange(maxValue)</c>.</summary>
    public override int Next(int maxValue) => Next(0, maxValue);

    // CPython's _randbelow: take as many top bits as n needs and redraw until the value is below n.
    uint Below(uint n)
    {
        int bits = 32 - System.Numerics.BitOperations.LeadingZeroCount(n);
        uint r;
        do r = NextUInt32() >> (32 - bits); while (r >= n);
        return r;
    }
}
