using System.Text;

namespace Microsoft.ML.Beit.Native;

/// <summary>
/// Reads and edits the version requirements (the SHT_GNU_verneed section) of a 64-bit little-endian ELF
/// shared library. The same edit as the build step in eng/MarkGlibcxxVersionWeak.cs, for processes that
/// have no MSBuild step (notebooks, scripts).
/// </summary>
internal static class ElfVersionNeeds
{
    const uint SectionGnuVerneed = 0x6ffffffe;
    const ushort VersionFlagWeak = 0x2;

    /// <summary>What <see cref="MarkWeak"/> found.</summary>
    internal enum Outcome { MarkedWeak, AlreadyWeak, NotRequired }

    /// <summary>
    /// Sets VER_FLG_WEAK on the requirement of <paramref name="version"/> (e.g. GLIBCXX_3.4.32) in the ELF image,
    /// so that the dynamic loader accepts the library where that version is missing.
    /// </summary>
    internal static Outcome MarkWeak(byte[] elf, string version)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("only 64-bit little-endian ELF files are handled");

        long sectionTable = checked((long)BitConverter.ToUInt64(elf, 0x28));
        int sectionSize = BitConverter.ToUInt16(elf, 0x3a);
        int sectionCount = BitConverter.ToUInt16(elf, 0x3c);
        for (int s = 0; s < sectionCount; s++)
        {
            int header = checked((int)(sectionTable + (long)s * sectionSize));
            if (BitConverter.ToUInt32(elf, header + 4) != SectionGnuVerneed) continue;

            int needs = checked((int)BitConverter.ToUInt64(elf, header + 0x18));
            int stringSection = (int)BitConverter.ToUInt32(elf, header + 0x28);
            int strings = checked((int)BitConverter.ToUInt64(elf, checked((int)(sectionTable + (long)stringSection * sectionSize)) + 0x18));

            // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
            // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
            for (int need = needs; ;)
            {
                int count = BitConverter.ToUInt16(elf, need + 2);
                int aux = need + (int)BitConverter.ToUInt32(elf, need + 8);
                for (int a = 0; a < count; a++)
                {
                    if (NameAt(elf, strings + (int)BitConverter.ToUInt32(elf, aux + 8)) == version)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VersionFlagWeak) != 0) return Outcome.AlreadyWeak;
                        BitConverter.GetBytes((ushort)(flags | VersionFlagWeak)).CopyTo(elf, aux + 4);
                        return Outcome.MarkedWeak;
                    }
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                uint next = BitConverter.ToUInt32(elf, need + 12);
                if (next == 0) break;
                need += (int)next;
            }
        }
        return Outcome.NotRequired;
    }

    /// <summary>Whether a file (a libstdc++) defines the version: its name appears as a NUL-terminated string.</summary>
    internal static bool Defines(string libraryPath, string version)
    {
        byte[] bytes = File.ReadAllBytes(libraryPath);
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        return bytes.AsSpan().IndexOf(needle) >= 0;
    }

    static string NameAt(byte[] bytes, int offset)
    {
        int end = Array.IndexOf(bytes, (byte)0, offset);
        return Encoding.ASCII.GetString(bytes, offset, end - offset);
    }
}
