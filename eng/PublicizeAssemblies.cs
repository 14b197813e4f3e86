// MSBuild inline task (compiled by RoslynCodeTaskFactory from eng/MLNetInternals.targets).
// Writes copies of assemblies in which every type, method and field is public, for the compiler only:
// the application still runs against the real assemblies, and [IgnoresAccessChecksTo] tells the
// runtime to allow the access. Only the access bits of the TypeDef, MethodDef and Field flags change,
// patched in place in the copy's metadata tables (found with a minimal ECMA-335 reader, because
// inline tasks compile against netstandard only).
using System;
using System.IO;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class PublicizeAssemblies : Task
{
    [Required] public ITaskItem[] Assemblies { get; set; }
    [Required] public string OutputDirectory { get; set; }
    [Output] public ITaskItem[] Publicized { get; set; }

    public override bool Execute()
    {
        Directory.CreateDirectory(OutputDirectory);
        Publicized = new ITaskItem[Assemblies.Length];
        for (int i = 0; i < Assemblies.Length; i++)
        {
            string source = Assemblies[i].GetMetadata("FullPath");
            string target = Path.Combine(OutputDirectory, Path.GetFileName(source));
            if (!File.Exists(target) || File.GetLastWriteTimeUtc(target) < File.GetLastWriteTimeUtc(source))
            {
                byte[] image = File.ReadAllBytes(source);
                int changed = MakePublic(image);
                File.WriteAllBytes(target, image);
                Log.LogMessage(MessageImportance.Low, $"Publicized {changed} members of {source} into {target}");
            }
            var item = new TaskItem(target);
            Assemblies[i].CopyMetadataTo(item);
            Publicized[i] = item;
        }
        return true;
    }

    // ECMA-335 tables before MethodDef, whose row sizes decide where TypeDef, Field and MethodDef start.
    const int Module = 0, TypeRef = 1, TypeDef = 2, FieldPtr = 3, Field = 4, MethodPtr = 5, MethodDef = 6, Param = 8,
        ModuleRef = 0x1a, TypeSpec = 0x1b, AssemblyRef = 0x23;

    static int MakePublic(byte[] image)
    {
        var tables = new MetadataTables(image);
        int changed = 0;
        // TypeDef.Flags (u32) visibility mask 0x7: NotPublic 0 -> Public 1; nested 3..7 -> NestedPublic 2.
        for (int row = 0; row < tables.Rows[TypeDef]; row++)
        {
            int at = tables.RowOffset(TypeDef, row);
            uint flags = BitConverter.ToUInt32(image, at);
            uint visibility = flags & 0x7;
            uint wanted = visibility == 0 ? 1u : visibility >= 3 ? 2u : visibility;
            if (wanted == visibility) continue;
            BitConverter.GetBytes((flags & ~0x7u) | wanted).CopyTo(image, at);
            changed++;
        }
        // Field.Flags (u16) first; MethodDef: RVA u32, ImplFlags u16, Flags u16. Access mask 0x7: Public 6;
        // 0 (compiler-controlled) stays as it is.
        foreach (var (table, offset) in new[] { (Field, 0), (MethodDef, 6) })
            for (int row = 0; row < tables.Rows[table]; row++)
            {
                int at = tables.RowOffset(table, row) + offset;
                ushort flags = BitConverter.ToUInt16(image, at);
                int access = flags & 0x7;
                if (access == 0 || access == 6) continue;
                BitConverter.GetBytes((ushort)((flags & ~0x7) | 6)).CopyTo(image, at);
                changed++;
            }
        return changed;
    }

    /// <summary>Just enough of the PE and metadata layout to find the first seven tables' rows.</summary>
    sealed class MetadataTables
    {
        public readonly uint[] Rows = new uint[64];
        readonly int[] _start = new int[64];
        readonly int[] _rowSize = new int[64];

        public MetadataTables(byte[] pe)
        {
            int coff = BitConverter.ToInt32(pe, 0x3c) + 4;
            int sections = BitConverter.ToUInt16(pe, coff + 2);
            int optional = coff + 20;
            int optionalSize = BitConverter.ToUInt16(pe, coff + 16);
            bool pe32Plus = BitConverter.ToUInt16(pe, optional) == 0x20b;
            int cliDirectory = optional + (pe32Plus ? 112 : 96) + 14 * 8;
            int cliHeader = FileOffset(pe, sections, optional + optionalSize, BitConverter.ToInt32(pe, cliDirectory));
            int root = FileOffset(pe, sections, optional + optionalSize, BitConverter.ToInt32(pe, cliHeader + 8));
            if (BitConverter.ToUInt32(pe, root) != 0x424A5342) throw new InvalidDataException("no CLI metadata");

            int versionLength = BitConverter.ToInt32(pe, root + 12);
            int cursor = root + 16 + versionLength + 2;
            int streams = BitConverter.ToUInt16(pe, cursor);
            cursor += 2;
            int tablesStream = -1;
            for (int s = 0; s < streams; s++)
            {
                int offset = BitConverter.ToInt32(pe, cursor);
                int nameStart = cursor + 8, nameEnd = Array.IndexOf(pe, (byte)0, nameStart);
                string name = System.Text.Encoding.ASCII.GetString(pe, nameStart, nameEnd - nameStart);
                if (name == "#~") tablesStream = root + offset;
                cursor = nameStart + ((nameEnd - nameStart) / 4 + 1) * 4;
            }
            if (tablesStream < 0) throw new InvalidDataException("no compressed metadata table stream (#~)");

            byte heapSizes = pe[tablesStream + 6];
            ulong valid = BitConverter.ToUInt64(pe, tablesStream + 8);
            cursor = tablesStream + 24;
            for (int t = 0; t < 64; t++)
                if ((valid & (1UL << t)) != 0) { Rows[t] = BitConverter.ToUInt32(pe, cursor); cursor += 4; }

            int str = (heapSizes & 1) != 0 ? 4 : 2, guid = (heapSizes & 2) != 0 ? 4 : 2, blob = (heapSizes & 4) != 0 ? 4 : 2;
            int Index(int table) => Rows[table] > 0xffff ? 4 : 2;
            int Coded(int tagBits, params int[] tagged)
            {
                uint max = 0;
                foreach (int t in tagged) max = Math.Max(max, Rows[t]);
                return max < (1u << (16 - tagBits)) ? 2 : 4;
            }
            _rowSize[Module] = 2 + str + 3 * guid;
            _rowSize[TypeRef] = Coded(2, Module, ModuleRef, AssemblyRef, TypeRef) + 2 * str;
            _rowSize[TypeDef] = 4 + 2 * str + Coded(2, TypeDef, TypeRef, TypeSpec) + Index(Field) + Index(MethodDef);
            _rowSize[FieldPtr] = Index(Field);
            _rowSize[Field] = 2 + str + blob;
            _rowSize[MethodPtr] = Index(MethodDef);
            _rowSize[MethodDef] = 8 + str + blob + Index(Param);
            int start = cursor;
            for (int t = Module; t <= MethodDef; t++)
            {
                _start[t] = start;
                start += (int)Rows[t] * _rowSize[t];
            }
        }

        public int RowOffset(int table, int row) => _start[table] + row * _rowSize[table];

        static int FileOffset(byte[] pe, int sections, int sectionTable, int rva)
        {
            for (int s = 0; s < sections; s++)
            {
                int header = sectionTable + s * 40;
                int virtualSize = BitConverter.ToInt32(pe, header + 8), virtualAddress = BitConverter.ToInt32(pe, header + 12);
                if (rva >= virtualAddress && rva < virtualAddress + Math.Max(virtualSize, BitConverter.ToInt32(pe, header + 16)))
                    return rva - virtualAddress + BitConverter.ToInt32(pe, header + 20);
            }
            throw new InvalidDataException($"RVA 0x{rva:x} is in no section");
        }
    }
}
